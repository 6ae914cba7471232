"""How far one backend's outputs are from a reference's, and the check that fails loudly past tolerance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from designer.core.errors import DesignerError


@dataclass(frozen=True)
class Parity:
    """``max_abs`` is the largest absolute difference, ``rel`` that divided by the largest reference magnitude."""

    batch: int
    max_abs: float
    rel: float

    @classmethod
    def between(cls, actual: np.ndarray, expected: np.ndarray) -> Parity:
        if actual.shape != expected.shape:
            raise DesignerError(f"output shape {actual.shape} differs from the reference's {expected.shape}")
        actual, expected = actual.astype(np.float64), expected.astype(np.float64)
        max_abs = float(np.max(np.abs(actual - expected)))
        scale = float(np.max(np.abs(expected)))
        return cls(int(expected.shape[0]), max_abs, max_abs / scale if scale > 0 else max_abs)

    def __str__(self) -> str:
        return f"batch {self.batch}: max abs {self.max_abs:.2e}, rel {self.rel:.2e}"


def check_parity(parities: Sequence[Parity], tolerance: float, what: str) -> None:
    """Raise naming the worst batch when any relative error exceeds ``tolerance``."""
    worst = max(parities, key=lambda p: p.rel)
    if not worst.rel <= tolerance:  # also catches NaN
        raise DesignerError(
            f"{what} does not match its reference ({worst}; tolerance {tolerance:g}); "
            "nothing was written, please report this network"
        )
