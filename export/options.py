"""Engine build options, checked before any work starts (TensorRT is not needed to check them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from designer.errors import DesignerError

PRECISIONS = ("fp32", "fp16")
ENGINE_TOLERANCE = 2e-2
"""Default largest relative error of an engine against onnxruntime's fp32 output (fp16 stays inside it)."""


@dataclass(frozen=True)
class EngineOptions:
    """Precision, the batch range of the optimization profile, builder workspace and timing cache.

    ``opt_batch`` is the batch TensorRT tunes its kernels for; Triton's preferred batch size
    and ``designer bench``'s throughput batch follow it. ``timing_cache`` None means the
    per-user default (see ``export.tensorrt_engine.default_timing_cache``).
    """

    precision: str = "fp16"
    min_batch: int = 1
    opt_batch: int = 32
    max_batch: int = 128
    workspace: int = 4_000_000_000  # 4G, as the CLI writes it
    timing_cache: Path | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise DesignerError(f"precision {self.precision!r} is not supported; use one of {', '.join(PRECISIONS)}")
        batches = {"--min-batch": self.min_batch, "--opt-batch": self.opt_batch, "--max-batch": self.max_batch}
        for flag, value in batches.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DesignerError(f"{flag} must be a positive integer, got {value!r}")
        if not self.min_batch <= self.opt_batch <= self.max_batch:
            raise DesignerError(
                f"batch range min {self.min_batch}, opt {self.opt_batch}, max {self.max_batch} is not ordered; "
                "give --min-batch <= --opt-batch <= --max-batch"
            )
        if self.workspace < 1 << 20:
            raise DesignerError(
                f"workspace of {self.workspace} bytes is too small; give at least 1M, e.g. --workspace 4G"
            )

    @property
    def preferred_batches(self) -> tuple[int, ...]:
        """Batch sizes for Triton's dynamic batcher: the tuned batch, then the largest."""
        return tuple(sorted({self.opt_batch, self.max_batch}))
