"""The ``tensorrt`` backend: an engine per op built from its ONNX, timed with ``execute_async_v3``.

Each op (or network) is exported to ONNX with batch-norm folded, parsed by TensorRT's
``OnnxParser`` and built with the profile's precision flags (``fp16`` / ``bf16`` allow those
kernels; ``fp32`` turns TF32 off, ``tf32`` on). One timing cache is shared by every build of a
run, so tactics already timed are not timed again. Engines run on a CUDA stream with PyTorch
CUDA tensors as their input and output buffers (no pycuda); CUDA events on that stream time
``k`` back-to-back enqueues (one batch of them lasting at least :data:`TARGET_MS`), warm-up
first, the median over the repetitions divided by ``k`` counts.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import tensorrt as trt
import torch

from designer.core.errors import DesignerError
from designer.core.spec import ArchSpec
from latency.measure.backend import Settings
from latency.measure.modules import network_input_shapes, network_module, op_input_shapes, op_module, random_inputs
from latency.measure.onnx import input_names, to_onnx
from latency.predict.ops import OpKey

TARGET_MS = 1.0
MAX_COPIES = 100
WORKSPACE = 4 << 30
TORCH_DTYPES = {
    trt.DataType.FLOAT: torch.float32,
    trt.DataType.HALF: torch.float16,
    trt.DataType.BF16: torch.bfloat16,
    trt.DataType.INT32: torch.int32,
    trt.DataType.INT64: torch.int64,
}


class TensorRTBackend:
    name = "tensorrt"

    def __init__(self, settings: Settings) -> None:
        if not torch.cuda.is_available():
            raise DesignerError("the tensorrt backend needs a CUDA GPU and none is visible here; run on the target GPU")
        self.settings = settings
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.builder = trt.Builder(self.logger)
        self.runtime = trt.Runtime(self.logger)
        self.timing_cache = self.builder.create_builder_config().create_timing_cache(b"")

    def device_name(self) -> str:
        return torch.cuda.get_device_name()

    def provenance(self) -> dict[str, Any]:
        from latency.measure.torch_backend import cuda_environment

        s = self.settings
        return {
            **cuda_environment(),
            "libraries": {"tensorrt": trt.__version__, "torch": torch.__version__},
            "method": (
                f"TensorRT engine per op from its ONNX (batch-norm folded), precision {s.precision}, "
                f"shared timing cache; execute_async_v3 on a CUDA stream with torch buffers, k back-to-back "
                f"enqueues per timed run (>= {TARGET_MS:g} ms, k <= {MAX_COPIES}); {s.warmup} warm-up runs, "
                f"median of {s.repetitions} runs timed with CUDA events, divided by k; random normal inputs"
            ),
            "warmup": s.warmup,
            "repetitions": s.repetitions,
            "activation": s.activation,
        }

    def build_engine(self, onnx_model: bytes) -> trt.ICudaEngine:
        """Parse and build an engine with the run's precision flags and shared timing cache."""
        network = self.builder.create_network(0)
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse(onnx_model):
            problems = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise DesignerError(f"TensorRT could not parse the op's ONNX ({problems}); check the TensorRT version")
        config = self.builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE)
        config.set_timing_cache(self.timing_cache, ignore_mismatch=False)
        precision = self.settings.precision
        if precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        elif precision == "bf16":
            config.set_flag(trt.BuilderFlag.BF16)
        if precision == "tf32":
            config.set_flag(trt.BuilderFlag.TF32)
        else:
            config.clear_flag(trt.BuilderFlag.TF32)
        serialized = self.builder.build_serialized_network(network, config)
        if serialized is None:
            raise DesignerError("TensorRT failed to build an engine for the op; see its log above")
        self.timing_cache = config.get_timing_cache()
        return self.runtime.deserialize_cuda_engine(serialized)

    def time_engine(self, engine: trt.ICudaEngine, inputs: dict[str, torch.Tensor]) -> float:
        context = engine.create_execution_context()
        buffers = []
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            dtype = TORCH_DTYPES[engine.get_tensor_dtype(name)]
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                tensor = inputs[name].to(device="cuda", dtype=dtype).contiguous()
            else:
                tensor = torch.empty(tuple(engine.get_tensor_shape(name)), dtype=dtype, device="cuda")
            buffers.append(tensor)
            context.set_tensor_address(name, tensor.data_ptr())
        stream = torch.cuda.Stream()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def run(copies: int) -> float:
            with torch.cuda.stream(stream):
                start.record(stream)
                for _ in range(copies):
                    if not context.execute_async_v3(stream.cuda_stream):
                        raise DesignerError("TensorRT failed to run the engine; see its log above")
                end.record(stream)
            end.synchronize()
            return start.elapsed_time(end)

        copies = int(min(MAX_COPIES, max(1, math.ceil(TARGET_MS / max(run(1), 1e-3)))))
        for _ in range(self.settings.warmup):
            run(copies)
        times = [run(copies) / copies for _ in range(self.settings.repetitions)]
        del buffers
        return statistics.median(times)

    def _time(self, module: torch.nn.Module, inputs: list[torch.Tensor]) -> float:
        names = input_names(len(inputs))
        engine = self.build_engine(to_onnx(module, [t.contiguous() for t in inputs], names))
        return self.time_engine(engine, dict(zip(names, inputs)))

    def time_op(self, key: OpKey, batch: int) -> float:
        inputs = random_inputs(op_input_shapes(key, batch), torch.float32, "cpu")
        return self._time(op_module(key, self.settings.activation), inputs)

    def time_network(self, spec: ArchSpec, batch: int) -> float:
        inputs = random_inputs(network_input_shapes(spec, batch), torch.float32, "cpu")
        return self._time(network_module(spec), inputs)


def create(settings: Settings) -> TensorRTBackend:
    return TensorRTBackend(settings)
