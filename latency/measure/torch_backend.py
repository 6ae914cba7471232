"""The ``torch`` backend: cuDNN-autotuned ops replayed from CUDA graphs, timed with CUDA events.

Precision: ``fp32`` (TF32 off for convs and matmuls, the DeepMAD paper's GPU-throughput
setting), ``tf32`` (TF32 on), ``fp16`` and ``bf16`` (module and inputs cast). Tensors are
channels-last. Each op is first run once (cuDNN picks its algorithm), then captured into a
CUDA graph of ``k`` back-to-back copies, ``k`` chosen so that one replay lasts at least
:data:`TARGET_MS`; after the warm-up replays the median over the timed replays, divided by
``k``, is the op's latency. A network is timed the same way (``k`` = 1).
"""

from __future__ import annotations

import math
import statistics
import subprocess
from collections.abc import Callable
from typing import Any

import torch

from designer.core.errors import DesignerError
from designer.core.spec import ArchSpec
from latency.measure.backend import Settings
from latency.measure.modules import network_input_shapes, network_module, op_input_shapes, op_module, random_inputs
from latency.predict.ops import OpKey

TARGET_MS = 1.0
MAX_COPIES = 100
DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchBackend:
    name = "torch"

    def __init__(self, settings: Settings) -> None:
        if not torch.cuda.is_available():
            raise DesignerError(
                "the torch backend times on a CUDA GPU and none is visible here; "
                "run on the target GPU, or use --backend onnxruntime --gpu cpu"
            )
        self.settings = settings
        self.dtype = DTYPES[settings.precision]
        torch.backends.cudnn.benchmark = True
        tf32 = settings.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32

    def device_name(self) -> str:
        return torch.cuda.get_device_name()

    def provenance(self) -> dict[str, Any]:
        s = self.settings
        return {
            **cuda_environment(),
            "libraries": {"torch": torch.__version__},
            "method": (
                f"torch {s.precision}, channels_last, cudnn.benchmark on, TF32 {'on' if s.precision == 'tf32' else 'off'}; "
                f"CUDA graph of k back-to-back copies (one replay >= {TARGET_MS:g} ms, k <= {MAX_COPIES}); "
                f"{s.warmup} warm-up replays, median of {s.repetitions} replays timed with CUDA events, divided by k; "
                "random normal inputs; batch-norm folded into conv bias (networks: its statistics set from a random normal batch first)"
            ),
            "warmup": s.warmup,
            "repetitions": s.repetitions,
            "activation": s.activation,
        }

    def _prepare(self, module: torch.nn.Module) -> torch.nn.Module:
        module = module.to(device="cuda", dtype=self.dtype).eval()
        return module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def time_op(self, key: OpKey, batch: int) -> float:
        return self._time(self.op_runner(key, batch))

    def op_runner(self, key: OpKey, batch: int) -> Callable[[], Any]:
        """A call that runs the op once on random inputs, module and inputs on the GPU."""
        with torch.device("cuda"):
            module = self._prepare(op_module(key, self.settings.activation))
        inputs = random_inputs(op_input_shapes(key, batch), self.dtype, "cuda")
        return lambda: module(*inputs)

    def time_network(self, spec: ArchSpec, batch: int) -> float:
        with torch.device("cuda"):
            module = self._prepare(network_module(spec))
        (x,) = random_inputs(network_input_shapes(spec, batch), self.dtype, "cuda")
        return self._time(lambda: module(x))

    def _time(self, run: Callable[[], Any]) -> float:
        with torch.inference_mode():
            copies = self.autotune(run)
            graph = self.capture(run, copies)
            times = self.replay_times(graph, self.settings.warmup, self.settings.repetitions)
        del graph
        return statistics.median(times) / copies

    @staticmethod
    def autotune(run: Callable[[], Any]) -> int:
        """Run once (cuDNN picks its algorithms), time a second run, and return how many
        back-to-back copies make one graph replay last :data:`TARGET_MS`."""
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            run()
            start.record()
            run()
            end.record()
        end.synchronize()
        torch.cuda.current_stream().wait_stream(side)
        return int(min(MAX_COPIES, max(1, math.ceil(TARGET_MS / max(start.elapsed_time(end), 1e-3)))))

    @staticmethod
    def capture(run: Callable[[], Any], copies: int) -> torch.cuda.CUDAGraph:
        """A CUDA graph of ``copies`` back-to-back runs."""
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(copies):
                run()
        return graph

    @staticmethod
    def replay_times(graph: torch.cuda.CUDAGraph, warmup: int, repetitions: int) -> list[float]:
        """Milliseconds of each of ``repetitions`` replays (CUDA events) after ``warmup`` untimed ones."""
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(warmup):
            graph.replay()
        times = []
        for _ in range(repetitions):
            start.record()
            graph.replay()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return times


def cuda_environment() -> dict[str, Any]:
    """The visible GPU, its driver and the CUDA / cuDNN versions, for a profile's provenance."""
    return {
        "device_name": torch.cuda.get_device_name(),
        "driver": _driver_version(),
        "cuda": torch.version.cuda,
        "cudnn": str(torch.backends.cudnn.version()),
    }


def _driver_version() -> str:
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return result.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def create(settings: Settings) -> TorchBackend:
    return TorchBackend(settings)
