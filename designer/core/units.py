"""Parsing and printing counts such as ``4.1G`` FLOPs or ``25.6M`` parameters."""

from __future__ import annotations

import math
import re

from designer.core.errors import DesignerError

_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_COUNT = re.compile(r"^\s*([+-]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKMGT]?)\s*$")


def parse_count(text: str) -> float:
    """``"4.1G"``, ``"4.1e9"``, ``"25.6M"`` or ``"390000000"`` as a float (finite, positive)."""
    match = _COUNT.match(str(text))
    if not match:
        raise DesignerError(f"{text!r} is not a number; write it like 4.1e9 or 4.1G (suffixes k, M, G, T)")
    value = float(match.group(1)) * _SUFFIX[match.group(2)]
    if not math.isfinite(value):
        raise DesignerError(f"{text!r} is too large; give a count below 1e300")
    if value <= 0:
        raise DesignerError(f"must be positive, got {text!r}")
    return value


def format_count(value: float) -> str:
    """``4089184256`` as ``4.09G``."""
    for suffix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"
