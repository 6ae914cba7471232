"""Engine build options, checked before any work starts (TensorRT is not needed to check them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from designer.core.errors import ParameterError
from designer.core.params import check_choice, check_int

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
        check_choice("precision", self.precision, PRECISIONS)
        for name in ("min_batch", "opt_batch", "max_batch"):
            check_int(name, getattr(self, name))
        if not self.min_batch <= self.opt_batch <= self.max_batch:
            raise ParameterError(
                f"batch range min {self.min_batch}, opt {self.opt_batch}, max {self.max_batch} is not ordered; "
                "give {min_batch} <= {opt_batch} <= {max_batch}"
            )
        if isinstance(self.workspace, bool) or not isinstance(self.workspace, int) or self.workspace < 1 << 20:
            raise ParameterError(
                f"a workspace of {self.workspace} bytes is too small; give at least 1M, e.g. {{workspace}} 4G"
            )

    @property
    def preferred_batches(self) -> tuple[int, ...]:
        """Batch sizes for Triton's dynamic batcher: the tuned batch, then the largest."""
        return tuple(sorted({self.opt_batch, self.max_batch}))
