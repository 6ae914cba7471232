"""One-stop numbers for a network: cost, depth, width, effectiveness, entropy, objective."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from designer.core.entropy import DEFAULT_ALPHA, DepthPenalty, EntropyReport, design_objective, entropy_report
from designer.core.layers import total_macs, total_params
from designer.core.spec import ArchSpec
from designer.core.structure import arch_layers, main_layers


@dataclass(frozen=True)
class Analysis:
    name: str
    params: int
    flops: int
    report: EntropyReport
    objective: float | None = None
    """Entropy minus the depth penalty; None where stage depths are unknown (a bare module)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form; ``designer solve --json`` uses the same key names."""
        report = self.report
        return {
            "name": self.name,
            "params": self.params,
            "flops": self.flops,
            "depth": report.depth,
            "mean_width": report.mean_width,
            "rho": report.rho,
            "entropy": report.entropy,
            "objective": self.objective,
            "stages": [
                {"resolution": s.res, "channels": s.channels, "layers": s.layers, "entropy": s.entropy}
                for s in report.stages
            ],
        }


def analyze_spec(
    spec: ArchSpec, alpha: Sequence[float] = DEFAULT_ALPHA, penalty: DepthPenalty | None = None
) -> Analysis:
    layers = arch_layers(spec)
    report = entropy_report(main_layers(spec), alpha)
    return Analysis(
        name=spec.name,
        params=int(total_params(layers)),
        flops=int(total_macs(layers)),
        report=report,
        objective=float(
            design_objective(report.entropy, [stage.depth for stage in spec.stages], penalty or DepthPenalty())
        ),
    )
