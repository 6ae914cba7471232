"""The ``onnxruntime`` backend: each op exported to ONNX and run by an execution provider.

On the CPU execution provider the wall clock times it (warm-up calls, then the median of the
timed calls) on one thread, so that a profile does not depend on how many cores are free; with ``--device cuda`` (onnxruntime-gpu) the CUDA execution provider runs it and
the wall clock includes the host round trip, so prefer the torch or tensorrt backend on GPUs.
Profiles of a CPU name the device ``cpu`` (``designer profile --backend onnxruntime --gpu cpu``).
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from designer.core.errors import DesignerError
from designer.core.spec import ArchSpec
from latency.measure.backend import Settings, wall_clock_median
from latency.measure.modules import network_input_shapes, network_module, op_input_shapes, op_module, random_inputs
from latency.measure.onnx import input_names, to_onnx
from latency.predict.ops import OpKey

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


class OrtBackend:
    name = "onnxruntime"

    def __init__(self, settings: Settings) -> None:
        provider = PROVIDERS.get(settings.device)
        if provider is None or provider not in ort.get_available_providers():
            raise DesignerError(
                f"onnxruntime has no {settings.device} execution provider here "
                f"(available: {', '.join(ort.get_available_providers())}); use --device cpu"
            )
        if settings.device == "cpu" and settings.precision != "fp32":
            raise DesignerError("onnxruntime on the CPU times fp32 only; use --precision fp32")
        self.settings, self.provider = settings, provider
        self.dtype = torch.float16 if settings.precision == "fp16" else torch.float32

    def device_name(self) -> str:
        if self.settings.device == "cpu":
            return f"CPU {_cpu_model()}"
        return torch.cuda.get_device_name() if torch.cuda.is_available() else self.settings.device

    def provenance(self) -> dict[str, Any]:
        s = self.settings
        return {
            "device_name": self.device_name(),
            "driver": "n/a" if s.device == "cpu" else "see onnxruntime-gpu",
            "cuda": "n/a" if s.device == "cpu" else torch.version.cuda,
            "cudnn": "n/a",
            "libraries": {"onnxruntime": ort.__version__, "torch": torch.__version__},
            "execution_provider": self.provider,
            "threads": 1 if s.device == "cpu" else "onnxruntime default",
            "method": (
                f"each op exported to ONNX (opset 17, batch-norm folded), one InferenceSession per op on "
                f"{self.provider}; {s.warmup} warm-up runs, median wall clock of {s.repetitions} runs; random normal inputs"
            ),
            "warmup": s.warmup,
            "repetitions": s.repetitions,
            "activation": s.activation,
        }

    def _time(self, module: torch.nn.Module, inputs: list[torch.Tensor]) -> float:
        names = input_names(len(inputs))
        model = to_onnx(module.to(self.dtype), [t.contiguous() for t in inputs], names)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.settings.device == "cpu":
            options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(model, options, providers=[self.provider])
        feeds = {name: np.ascontiguousarray(t.numpy()) for name, t in zip(names, inputs)}
        return wall_clock_median(lambda: session.run(None, feeds), self.settings.warmup, self.settings.repetitions)

    def time_op(self, key: OpKey, batch: int) -> float:
        inputs = random_inputs(op_input_shapes(key, batch), self.dtype, "cpu")
        return self._time(op_module(key, self.settings.activation), inputs)

    def time_network(self, spec: ArchSpec, batch: int) -> float:
        inputs = random_inputs(network_input_shapes(spec, batch), self.dtype, "cpu")
        return self._time(network_module(spec), inputs)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def create(settings: Settings) -> OrtBackend:
    return OrtBackend(settings)
