"""Throughput on a target GPU as a constraint of the MP.

A latency profile (``latency.predict.predictor.Predictor``) predicts each layer's latency for one
batch; a network's latency is the sum over its layers and its throughput
``batch / latency``. Asking for at least ``T`` images/s is asking for a latency of at most
``1000 * batch / T`` ms, which the solver holds like any other cost (measured latency is
neither monotone nor convex in the widths; the solver bounds it accordingly).
"""

from __future__ import annotations

from typing import Any, Protocol

from designer.core.params import check_number
from designer.core.solver import Constraint
from designer.core.spec import ArchSpec

LATENCY = "latency"


class LatencyModel(Protocol):
    """What the solver needs from a latency profile."""

    name: str
    batch: int

    def layer_latency(self, layer: Any) -> Any:
        """Latency in ms of one layer for a whole batch; vectorised over array fields."""

    def network_latency(self, spec: ArchSpec) -> float:
        """Latency in ms of a whole network for one batch."""


def latency_limit(model: LatencyModel, target: float) -> float:
    check_number("target_throughput", target)
    return 1000.0 * model.batch / target


def throughput_from_latency(model: LatencyModel, latency_ms: float) -> float:
    return 1000.0 * model.batch / latency_ms


def throughput_constraint(model: LatencyModel, target: float) -> Constraint:
    return Constraint(
        LATENCY, latency_limit(model, target), layer_cost=model.layer_latency, monotone=False, convex=False
    )


def predicted_throughput(model: LatencyModel, spec: ArchSpec) -> float:
    return throughput_from_latency(model, model.network_latency(spec))
