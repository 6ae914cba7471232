"""How well a profile predicts its own held-out entries (``designer profile check``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from designer.core.errors import DesignerError
from latency.predict.ops import OpKey
from latency.predict.predictor import Predictor, predict_keys
from latency.predict.table import LatencyTable


@dataclass(frozen=True)
class ErrorSummary:
    """Absolute relative errors ``|predicted / measured - 1|``, as fractions."""

    count: int
    median_abs_error: float
    p90_abs_error: float
    max_abs_error: float
    within_10pct: float

    @classmethod
    def of(cls, predicted: Sequence[float] | np.ndarray, measured: Sequence[float] | np.ndarray) -> ErrorSummary:
        error = np.abs(np.asarray(predicted) / np.asarray(measured) - 1.0)
        return cls(
            len(error),
            float(np.median(error)),
            float(np.percentile(error, 90)),
            float(error.max()),
            float(np.mean(error <= 0.1)),
        )

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def split(keys: Sequence[OpKey], holdout: float, seed: int) -> tuple[list[OpKey], list[OpKey]]:
    """Sorted keys split at random into (fitted, held out)."""
    ordered = sorted(keys)
    order = np.random.default_rng(seed).permutation(len(ordered))
    count = int(round(holdout * len(ordered)))
    return [ordered[i] for i in order[count:]], [ordered[i] for i in order[:count]]


def holdout_check(table: LatencyTable, holdout: float = 0.1, seed: int = 0) -> ErrorSummary:
    """Fit on all entries but a random ``holdout`` fraction, and score the held-out ones."""
    if not 0 < holdout < 1:
        raise DesignerError(f"--holdout must be between 0 and 1 (exclusive), got {holdout:g}")
    fitted, held = split(list(table.entries), holdout, seed)
    if not held or not fitted:
        raise DesignerError(
            f"profile {table.name} has too few entries ({len(table.entries)}) for --holdout {holdout:g}"
        )
    predictor = Predictor(table.subset(fitted))
    return ErrorSummary.of(predict_keys(predictor, held), [table.entries[k] for k in held])
