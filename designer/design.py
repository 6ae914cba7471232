"""Library entry point of ``designer solve``: a request in, the optimal design out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from designer.analysis import Analysis, analyze_spec
from designer.entropy import DEFAULT_ALPHA, DEFAULT_BETA
from designer.errors import DesignerError
from designer.solver import Constraint, SolveStats, cheapest, flops_limit, params_limit, solve
from designer.space import RHO_RANGE, SearchSpace, family_rho, validate_rho
from designer.spec import ArchSpec
from designer.units import format_count


@dataclass(frozen=True)
class DesignRequest:
    """What to design: the family, the budgets and the MP's parameters."""

    family: str = "bottleneck"
    flops: float | None = None
    params: float | None = None
    rho: float | None = None
    alpha: tuple[float, ...] = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    resolution: int = 224
    stages: int = 5
    width_step: int = 8
    max_width: int = 2048
    max_depth: int = 32
    kernel: int | None = None
    expansion: int | None = None
    head_width: int = 1280
    num_classes: int = 1000
    time_limit: float | None = None

    @property
    def rho0(self) -> float:
        return self.rho if self.rho is not None else family_rho(self.family)

    def space(self) -> SearchSpace:
        return SearchSpace(
            family=self.family,
            resolution=self.resolution,
            stages=self.stages,
            width_step=self.width_step,
            max_width=self.max_width,
            max_depth=self.max_depth,
            kernel=self.kernel,
            expansion=self.expansion,
            head_width=self.head_width,
            num_classes=self.num_classes,
            alpha=tuple(self.alpha),
            beta=self.beta,
        )

    def budget_constraints(self) -> list[Constraint]:
        constraints = []
        if self.flops is not None:
            constraints.append(flops_limit(self.flops))
        if self.params is not None:
            constraints.append(params_limit(self.params))
        return constraints


@dataclass(frozen=True)
class DesignResult:
    spec: ArchSpec
    analysis: Analysis
    rho0: float
    solve_seconds: float
    stats: SolveStats = field(default_factory=SolveStats)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def objective(self) -> float:
        assert self.analysis.objective is not None
        return self.analysis.objective

    def to_dict(self) -> dict[str, Any]:
        data = self.analysis.to_dict()
        data.update(self.extra)
        data["rho0"] = self.rho0
        data["solve_seconds"] = self.solve_seconds
        data["arch"] = self.spec.to_dict()
        return data


DESCRIBE = {"macs": ("FLOPs", format_count), "params": ("params", format_count)}


def design(
    request: DesignRequest,
    extra: Sequence[Constraint] = (),
    describe: dict[str, tuple[str, Callable[[float], str]]] | None = None,
    progress: Callable[..., None] | None = None,
) -> DesignResult:
    """Solve the DeepMAD MP for ``request`` (plus ``extra`` constraints, e.g. throughput).

    Raises :class:`DesignerError` with one line naming the smallest feasible budget when no
    design satisfies the constraints.
    """
    validate_rho(request.rho0)
    space = request.space()
    constraints = request.budget_constraints() + list(extra)
    if not constraints:
        raise DesignerError("give at least one budget: --flops, --params or --target-throughput")
    names = {**DESCRIBE, **(describe or {})}
    try:
        solution = solve(space, constraints, request.rho0, request.time_limit, progress)
    except DesignerError as error:
        if "did not finish" in str(error):
            raise
        raise DesignerError(_infeasible_message(space, constraints, request, names)) from None
    spec = space.to_spec(solution.point, name=f"deepmad-{request.family}")
    analysis = analyze_spec(spec, space.alpha, space.beta)
    return DesignResult(spec, analysis, request.rho0, solution.seconds, solution.stats)


def _infeasible_message(
    space: SearchSpace,
    constraints: list[Constraint],
    request: DesignRequest,
    names: dict[str, tuple[str, Callable[[float], str]]],
) -> str:
    where = f"no {request.family} design at resolution {request.resolution} meets rho <= {request.rho0:g}"
    for constraint in constraints:
        others = [c for c in constraints if c is not constraint]
        least = cheapest(space, constraint, others, request.rho0)
        label, show = names.get(constraint.name, (constraint.name, format_count))
        if least is None:
            continue
        if least > constraint.limit:
            scope = " under the other limits" if others else ""
            return f"{where} with {label} <= {show(constraint.limit)}: the smallest feasible {label} budget{scope} is {show(least)}"
    if len(constraints) > 1:
        return f"{where} under these limits together; raise one of them (each alone is feasible)"
    low, high = RHO_RANGE
    return f"{where}; raise --rho (valid range {low:g} to {high:g}) or the budgets"
