"""The backend interface: time an op, or a whole network, at a batch on the target device.

Three backends implement it (imported only when used): ``torch`` (:mod:`latency.measure.torch_backend`),
``onnxruntime`` (:mod:`latency.measure.ort_backend`) and ``tensorrt`` (:mod:`latency.measure.trt_backend`). All
time the same way: a warm-up, then many repetitions of which the median counts, with device
events on GPUs and the wall clock on CPUs, on random normal inputs.
"""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from designer.core.errors import DesignerError
from designer.core.spec import ArchSpec
from latency.predict.ops import OpKey
from latency.predict.profiles import matches_device

MODULES = {
    "torch": "latency.measure.torch_backend",
    "onnxruntime": "latency.measure.ort_backend",
    "tensorrt": "latency.measure.trt_backend",
}
PRECISIONS = {
    "torch": ("fp32", "tf32", "fp16", "bf16"),
    "onnxruntime": ("fp32", "fp16"),
    "tensorrt": ("fp32", "tf32", "fp16", "bf16"),
}


WARMUP, REPETITIONS = 3, 10
"""Default warm-up runs and timed runs. Twenty timed replays used to be the default; the median
of their first ten lies 0.06 % from that of all twenty (median over 78 ops of the H100 cost runs;
worst 2.6 %), and the shorter policy would have saved 99 s of the 663 s H200 fp16 build
(``benchmarks/replay_share.py``, ``docs/h200/replay-share.json``)."""


@dataclass(frozen=True)
class Settings:
    """How to time: precision, activation of the timed ops, warm-up and repetitions."""

    precision: str = "fp32"
    activation: str = "relu"
    warmup: int = WARMUP
    repetitions: int = REPETITIONS
    device: str = "cuda"


class Backend(Protocol):
    name: str
    settings: Settings

    def device_name(self) -> str:
        """The device as its driver names it (``NVIDIA H100 80GB HBM3``, a CPU model)."""

    def provenance(self) -> dict[str, Any]:
        """Device, driver and library versions and the timing method, for the profile header."""

    def time_op(self, key: OpKey, batch: int) -> float:
        """Median latency (ms) of one op for the whole batch."""

    def time_network(self, spec: ArchSpec, batch: int) -> float:
        """Median latency (ms) of the whole network (batch-norm folded) for the whole batch."""


def get_backend(name: str, settings: Settings) -> Backend:
    if name not in MODULES:
        raise DesignerError(f"unknown backend {name!r}; use one of: {', '.join(MODULES)}")
    if settings.precision not in PRECISIONS[name]:
        raise DesignerError(
            f"backend {name} does not time precision {settings.precision!r}; use one of: {', '.join(PRECISIONS[name])}"
        )
    try:
        module = importlib.import_module(MODULES[name])
    except ImportError as error:
        raise DesignerError(f"backend {name} needs {error.name}, which does not import here; install it") from None
    backend: Backend = module.create(settings)
    return backend


def check_device(backend: Backend, gpu: str) -> None:
    """Refuse to measure a profile for ``gpu`` on another device (``--gpu`` names the target)."""
    actual = backend.device_name()
    if not matches_device(gpu, actual):
        raise DesignerError(
            f"--gpu {gpu} does not match the device here ({actual}); a {gpu} profile can only be measured on a {gpu}"
        )


def wall_clock_median(run: Callable[[], Any], warmup: int, repetitions: int) -> float:
    """Median wall-clock time (ms) of ``run()`` after ``warmup`` calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)
