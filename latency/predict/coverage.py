"""How much of a prediction rests on what the profile measured, and how much is extrapolated.

The predictor prices any op, but only interpolates within what its profile measured: per
*group* of ops (base kind, kernel, stride; images per input width, as the predictor groups
them) the measured ranges of input channels, resolution and output channels. An op is
*extrapolated* when its group was never measured (a kernel or stride priced from another
one, a kind priced by the roofline) or when one of its sizes lies more than
:data:`TOLERANCE` outside the group's measured range. :func:`coverage` sums a network's
predicted latency over its extrapolated ops; a design whose latency is more than
:data:`MAX_EXTRAPOLATED` extrapolated is not a prediction to trust.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from designer.core.spec import ArchSpec
from designer.core.structure import arch_layers
from latency.predict.ops import KINDS, OpKey, base_kind, layer_ops
from latency.predict.predictor import NARROW, GroupKey, Predictor, predict_keys

TOLERANCE = 1.1
"""A size up to 10 % beyond the measured range still counts as measured."""
MAX_EXTRAPOLATED = 0.5
"""The largest share of a design's predicted latency that may come from extrapolated ops."""
AXES = ("cin", "res", "cout")


@dataclass(frozen=True)
class ExtrapolatedOp:
    op: OpKey
    ms: float
    """Predicted latency of all of the network's instances of the op (whole batch)."""
    reason: str

    def describe(self) -> str:
        return f"{self.op.label()}: {self.reason}"


@dataclass(frozen=True)
class Coverage:
    """A network's predicted latency and the part of it that is extrapolated."""

    profile: str
    total_ms: float
    extrapolated_ms: float
    worst: tuple[ExtrapolatedOp, ...]
    """The extrapolated ops, dearest first."""

    @property
    def extrapolated_fraction(self) -> float:
        return self.extrapolated_ms / self.total_ms if self.total_ms > 0 else 0.0

    @property
    def trusted(self) -> bool:
        return self.extrapolated_fraction <= MAX_EXTRAPOLATED

    def summary(self, ops: int = 2) -> str:
        """``"83% of the predicted latency is extrapolated (worst: ...)"``."""
        worst = "; ".join(op.describe() for op in self.worst[:ops])
        return f"{self.extrapolated_fraction:.0%} of the predicted latency is extrapolated" + (
            f" (dearest: {worst})" if worst else ""
        )


def group_of(op: OpKey) -> GroupKey:
    """The predictor's group of an op (images form a group per input width)."""
    base = base_kind(op.kind)
    return (base, op.kernel, op.stride, op.cin if base == "conv" and op.cin < NARROW else 0)


def measured_ranges(predictor: Predictor) -> dict[GroupKey, np.ndarray]:
    """Per measured group, the ``[[min, max]]`` of cin, res and cout over its entries."""
    sizes: dict[GroupKey, list[tuple[int, int, int]]] = defaultdict(list)
    for op in predictor.table.entries:
        sizes[group_of(op)].append((op.cin, op.res, op.cout))
    return {group: np.stack([np.min(v, 0), np.max(v, 0)], 1) for group, v in sizes.items()}


def extrapolation(op: OpKey, ranges: dict[GroupKey, np.ndarray]) -> str:
    """Why ``op`` is extrapolated, or ``""`` where the profile covers it."""
    group = group_of(op)
    if group not in ranges and group[3]:
        group = (*group[:3], 0)  # an image conv of an unmeasured input width: priced as a regular conv
    if group not in ranges:
        base = group[0]
        if not any(g[0] == base for g in ranges):
            return f"no {base} op measured (roofline estimate)"
        return f"kernel {op.kernel} stride {op.stride} not measured (scaled from another)"
    low, high = ranges[group].T
    for axis, value, least, most in zip(AXES, (op.cin, op.res, op.cout), low, high):
        if value > most * TOLERANCE:
            return f"{axis} {value} above the measured {most}"
        if value * TOLERANCE < least:
            return f"{axis} {value} below the measured {least}"
    return ""


def coverage(predictor: Predictor, spec: ArchSpec) -> Coverage:
    """How much of ``spec``'s predicted latency on ``predictor``'s profile is extrapolated."""
    counts: dict[OpKey, int] = defaultdict(int)
    for layer in arch_layers(spec):
        for op in layer_ops(layer):
            counts[op] += 1
    ops = sorted(counts)
    ms = predict_keys(predictor, ops) * np.array([counts[op] for op in ops])
    ranges = measured_ranges(predictor)
    extrapolated = []
    for op, latency in zip(ops, ms):
        reason = extrapolation(op, ranges)
        if reason:
            extrapolated.append(ExtrapolatedOp(op, float(latency), reason))
    extrapolated.sort(key=lambda item: -item.ms)
    return Coverage(predictor.name, float(ms.sum()), float(sum(op.ms for op in extrapolated)), tuple(extrapolated))


def unmeasured_kinds(predictor: Predictor) -> list[str]:
    """Op kinds the profile has no entry of at all (the predictor prices them from others)."""
    measured = {op.kind for op in predictor.table.entries}
    return [kind for kind in KINDS if kind not in measured]


def describe_ranges(predictor: Predictor) -> list[dict[str, Any]]:
    """The measured ranges per group, for reports (``designer profile check``)."""
    rows: list[dict[str, Any]] = []
    for (base, kernel, stride, image), bounds in sorted(measured_ranges(predictor).items()):
        row: dict[str, Any] = {"op": base, "kernel": kernel, "stride": stride}
        if image:
            row["image_channels"] = image
        row.update({axis: [int(low), int(high)] for axis, (low, high) in zip(AXES, bounds)})
        rows.append(row)
    return rows
