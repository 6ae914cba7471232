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
from designer.throughput import LATENCY, predicted_throughput, throughput_constraint, throughput_from_latency
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
    target_throughput: float | None = None
    profile: str | None = None

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
            kernel=self.kernel or 0,
            expansion=self.expansion or 0,
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

    def latency_model(self) -> Any:
        """The profile's predictor when a throughput target is set (``None`` otherwise)."""
        if self.target_throughput is None:
            return None
        if self.profile is None:
            raise DesignerError("--target-throughput needs --profile NAME (a latency profile of the target GPU)")
        from latency.predictor import Predictor

        return Predictor.load(self.profile)


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


def design(
    request: DesignRequest,
    extra: Sequence[Constraint] = (),
    progress: Callable[..., None] | None = None,
    latency_model: Any = None,
) -> DesignResult:
    """Solve the DeepMAD MP for ``request`` (plus ``extra`` constraints).

    With a throughput target, ``latency_model`` (default: the request's profile) predicts
    latency. Raises :class:`DesignerError` with one line naming the smallest feasible budget
    (or the highest reachable throughput) when no design satisfies the constraints.
    """
    validate_rho(request.rho0)
    space = request.space()
    model = latency_model if latency_model is not None else request.latency_model()
    constraints = request.budget_constraints() + list(extra)
    if request.target_throughput is not None:
        constraints.append(throughput_constraint(model, request.target_throughput))
    if not constraints:
        raise DesignerError("give at least one budget: --flops, --params or --target-throughput")
    try:
        solution = solve(space, constraints, request.rho0, request.time_limit, progress)
    except DesignerError as error:
        if "did not finish" in str(error):
            raise
        raise DesignerError(_infeasible_message(space, constraints, request, model)) from None
    spec = space.to_spec(solution.point, name=f"deepmad-{request.family}")
    analysis = analyze_spec(spec, space.alpha, space.beta)
    extra_keys: dict[str, Any] = {}
    if request.target_throughput is not None:
        extra_keys = {
            "predicted_throughput": predicted_throughput(model, spec),
            "target_throughput": request.target_throughput,
            "profile": request.profile,
        }
    return DesignResult(spec, analysis, request.rho0, solution.seconds, solution.stats, extra_keys)


def _describe(constraint: Constraint, least: float, model: Any) -> str:
    """``"with <limit>: the <best reachable value>"`` for one constraint."""
    if constraint.name == LATENCY:
        target = throughput_from_latency(model, constraint.limit)
        best = throughput_from_latency(model, least)
        return f"at {target:,.0f} images/s: the highest reachable throughput is {best:,.0f} images/s"
    label = {"macs": "FLOPs", "params": "params"}.get(constraint.name, constraint.name)
    return f"with {label} <= {format_count(constraint.limit)}: the smallest feasible {label} budget is {format_count(least)}"


def _infeasible_message(space: SearchSpace, constraints: list[Constraint], request: DesignRequest, model: Any) -> str:
    where = f"no {request.family} design at resolution {request.resolution} meets rho <= {request.rho0:g}"
    for constraint in constraints:
        others = [c for c in constraints if c is not constraint]
        least = cheapest(space, constraint, others, request.rho0)
        if least is not None and least > constraint.limit:
            scope = " (under the other limits)" if others else ""
            return f"{where} {_describe(constraint, least, model)}{scope}"
    if len(constraints) > 1:
        return f"{where} under these limits together; raise one of them (each alone is feasible)"
    low, high = RHO_RANGE
    return f"{where}; raise --rho (valid range {low:g} to {high:g}) or the budgets"
