"""Time a TensorRT engine on the GPU and check its outputs against onnxruntime (``designer bench``).

Import this module only after :func:`export.deps.check_tensorrt`; it runs the engine through
PyTorch's CUDA tensors and streams. Inputs stay on the GPU (no host copies are timed). Each
measured batch is launched back to back ``iters`` times on one stream with a CUDA event after
every launch: the per-launch event gaps give the latency percentiles, the whole span the
throughput.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorrt as trt
import torch

from designer.core.errors import DesignerError
from export.onnx_export import ort_session
from export.options import ENGINE_TOLERANCE
from export.parity import Parity, check_parity
from export.tensorrt_engine import TensorRTLogger

_TORCH_TYPES = {
    trt.DataType.FLOAT: torch.float32,
    trt.DataType.HALF: torch.float16,
    trt.DataType.BF16: torch.bfloat16,
    trt.DataType.INT32: torch.int32,
    trt.DataType.INT64: torch.int64,
}


@dataclass(frozen=True)
class Timing:
    batch: int
    throughput: float
    """Samples per second."""
    p50_ms: float
    p90_ms: float
    p99_ms: float

    def __str__(self) -> str:
        return (
            f"batch {self.batch}: {self.throughput:,.0f} samples/s, latency p50 {self.p50_ms:.3f} ms, "
            f"p90 {self.p90_ms:.3f} ms, p99 {self.p99_ms:.3f} ms"
        )


@dataclass(frozen=True)
class BenchResult:
    batch_range: tuple[int, int, int]
    """min, opt and max batch of the engine's optimization profile."""
    timings: tuple[Timing, ...]
    parity: Parity


class EngineRunner:
    """A deserialized engine with one input and one output, one execution context and device buffers."""

    def __init__(self, plan: bytes) -> None:
        self.logger = TensorRTLogger()
        self.runtime = trt.Runtime(self.logger)  # kept alive as long as the engine
        engine = self.runtime.deserialize_cuda_engine(plan)
        if engine is None:
            raise DesignerError(
                "TensorRT cannot load this engine (built by another TensorRT version or for another GPU?); "
                "rebuild it with designer export --engine"
            )
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise DesignerError(f"bench handles engines with one input and one output, this one has {names}")
        self.engine = engine
        self.input, self.output = inputs[0], outputs[0]
        low, opt, high = engine.get_tensor_profile_shape(self.input, 0)
        self.batch_range = (low[0], opt[0], high[0])
        self.sample_shape = tuple(opt[1:])
        self.context = engine.create_execution_context()
        self.x = self.y = torch.empty(0)

    def bind(self, batch: int) -> None:
        """Allocate input ``x`` and output ``y`` for ``batch`` and hand their addresses to the context."""
        self.x = torch.empty((batch, *self.sample_shape), dtype=self._dtype(self.input), device="cuda")
        self.context.set_input_shape(self.input, tuple(self.x.shape))
        out_shape = self.context.get_tensor_shape(self.output)[:]  # Dims slices are tuples
        self.y = torch.empty(out_shape, dtype=self._dtype(self.output), device="cuda")
        self.context.set_tensor_address(self.input, self.x.data_ptr())
        self.context.set_tensor_address(self.output, self.y.data_ptr())

    def launch(self, stream: torch.cuda.Stream) -> None:
        if not self.context.execute_async_v3(stream.cuda_stream):
            reason = self.logger.errors[0] if self.logger.errors else "no error was logged"
            raise DesignerError(f"TensorRT failed to run the engine ({reason})")

    def _dtype(self, name: str) -> torch.dtype:
        kind = self.engine.get_tensor_dtype(name)
        if kind not in _TORCH_TYPES:
            raise DesignerError(f"tensor {name!r} has TensorRT type {kind.name}, which bench does not handle")
        return _TORCH_TYPES[kind]


def time_batch(runner: EngineRunner, batch: int, warmup: int, iters: int) -> Timing:
    runner.bind(batch)
    runner.x.normal_()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    events = [torch.cuda.Event(enable_timing=True) for _ in range(iters + 1)]
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            runner.launch(stream)
        events[0].record(stream)
        for event in events[1:]:
            runner.launch(stream)
            event.record(stream)
    stream.synchronize()
    gaps = np.array([start.elapsed_time(end) for start, end in zip(events, events[1:])])
    p50, p90, p99 = np.percentile(gaps, [50, 90, 99])
    return Timing(batch, batch * iters * 1e3 / events[0].elapsed_time(events[-1]), p50, p90, p99)


def engine_parity(runner: EngineRunner, onnx_path: Path, batch: int) -> Parity:
    """Engine output vs onnxruntime (CPU, fp32) on the same seeded random batch."""
    runner.bind(batch)
    sample = np.random.default_rng(0).standard_normal((batch, *runner.sample_shape)).astype(np.float32)
    runner.x.copy_(torch.from_numpy(sample))
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    runner.launch(stream)
    stream.synchronize()
    expected = ort_session(str(onnx_path)).run([runner.output], {runner.input: sample})[0]
    return Parity.between(runner.y.float().cpu().numpy(), np.asarray(expected))


def bench_engine(
    plan_path: Path,
    onnx_path: Path | None = None,
    warmup: int = 20,
    iters: int = 200,
    tolerance: float = ENGINE_TOLERANCE,
) -> BenchResult:
    """Throughput and latency at the engine's min and opt batch; outputs checked at the opt batch.

    ``onnx_path`` defaults to the plan's path with an ``.onnx`` suffix (where ``designer export
    --onnx model.onnx --engine model.plan`` puts it).
    """
    plan_path = Path(plan_path)
    onnx_path = Path(onnx_path) if onnx_path else plan_path.with_suffix(".onnx")
    if not torch.cuda.is_available():
        raise DesignerError("designer bench needs an NVIDIA GPU, and PyTorch sees no CUDA device here")
    if warmup < 0 or iters < 1:
        raise DesignerError(f"--warmup must be >= 0 and --iters >= 1, got {warmup} and {iters}")
    if not plan_path.is_file():
        raise DesignerError(f"engine {plan_path} does not exist; build one with designer export --engine")
    if not onnx_path.is_file():
        raise DesignerError(f"ONNX model {onnx_path} not found; pass the one the engine was built from with --onnx")
    runner = EngineRunner(plan_path.read_bytes())
    low, opt, _ = runner.batch_range
    parity = engine_parity(runner, onnx_path, opt)
    check_parity([parity], tolerance, f"engine {plan_path}")
    timings = tuple(time_batch(runner, batch, warmup, iters) for batch in sorted({low, opt}))
    return BenchResult(runner.batch_range, timings, parity)
