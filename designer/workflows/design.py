"""Design: a request in, the optimal design out (the library entry point of ``designer solve``)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from designer.core.analysis import Analysis, analyze_spec
from designer.core.errors import Infeasible, ParameterError, SolveTimeout
from designer.core.request import RHO_RANGE, DesignRequest
from designer.core.solver import Constraint, Reach, SolveStats, cheapest_each, flops_limit, params_limit, solve
from designer.core.space import SearchSpace
from designer.core.spec import ArchSpec
from designer.core.throughput import (
    LATENCY,
    LatencyModel,
    predicted_throughput,
    throughput_constraint,
    throughput_from_latency,
)
from designer.core.units import format_count
from latency.predict.coverage import MAX_EXTRAPOLATED, Coverage, coverage
from latency.predict.predictor import Predictor


@dataclass(frozen=True)
class DesignResult:
    """The optimal design of a request, its analysis and, with a throughput target, its predicted speed."""

    spec: ArchSpec
    analysis: Analysis
    rho0: float
    solve_seconds: float
    stats: SolveStats = field(default_factory=SolveStats)
    predicted_throughput: float | None = None
    """Images/s on the profile's GPU (with a throughput target)."""
    target_throughput: float | None = None
    profile: str | None = None
    """The latency profile the throughput was predicted with."""
    proven: bool = True
    """Whether the design is proven optimal (false when the time limit stopped the proof)."""
    gap: float = 0.0
    """How far below the optimum the design's objective can be, as a fraction of it."""
    coverage: Coverage | None = None
    """How much of the predicted latency the profile's measurements cover (with a profile's predictor)."""

    @property
    def objective(self) -> float:
        assert self.analysis.objective is not None
        return self.analysis.objective

    def to_dict(self) -> dict[str, Any]:
        data = self.analysis.to_dict()
        if self.target_throughput is not None:
            data["predicted_throughput"] = self.predicted_throughput
            data["target_throughput"] = self.target_throughput
            data["profile"] = self.profile
        if self.coverage is not None:
            data["extrapolated_fraction"] = self.coverage.extrapolated_fraction
        data["proven_optimal"] = self.proven
        data["gap"] = self.gap
        data["rho0"] = self.rho0
        data["solve_seconds"] = self.solve_seconds
        data["arch"] = self.spec.to_dict()
        return data


class InfeasibleRho(ParameterError, Infeasible):
    """Infeasible at any budget the program was given: the effectiveness bound is too tight."""


def budget_constraints(request: DesignRequest) -> list[Constraint]:
    constraints = []
    if request.flops is not None:
        constraints.append(flops_limit(request.flops))
    if request.params is not None:
        constraints.append(params_limit(request.params))
    return constraints


def request_constraints(
    request: DesignRequest, model: LatencyModel | None, extra: Sequence[Constraint] = ()
) -> list[Constraint]:
    """The request's budgets, ``extra``, and with a throughput target the constraint of ``model``'s
    prediction."""
    constraints = budget_constraints(request) + list(extra)
    if request.target_throughput is not None:
        assert model is not None
        constraints.append(throughput_constraint(model, request.target_throughput))
    return constraints


def load_latency_model(request: DesignRequest) -> LatencyModel | None:
    """The predictor of the request's profile when it sets a throughput target (``None`` otherwise);
    without a profile, the default one (:func:`latency.predict.default.default_profile`)."""
    if request.target_throughput is None:
        return None
    from latency.predict.cache import load_predictor
    from latency.predict.default import default_profile

    return load_predictor(request.profile if request.profile is not None else default_profile().path)


def design(
    request: DesignRequest,
    extra: Sequence[Constraint] = (),
    progress: Callable[..., None] | None = None,
    latency_model: LatencyModel | None = None,
) -> DesignResult:
    """Solve the DeepMAD MP for ``request`` (plus ``extra`` constraints).

    With a throughput target, ``latency_model`` (default: the request's profile) predicts
    latency. Raises :class:`~designer.core.errors.Infeasible` with one line naming the smallest
    feasible budget (or the highest reachable throughput) when no design satisfies the
    constraints, :class:`~designer.core.errors.SolveTimeout` when the time limit passes first.
    """
    space = SearchSpace(request)
    model = latency_model if latency_model is not None else load_latency_model(request)
    constraints = request_constraints(request, model, extra)
    if not constraints:
        raise ParameterError("give at least one budget: {flops}, {params} or {target_throughput}")
    began = time.perf_counter()
    try:
        solution = solve(space, constraints, request.rho0, request.time_limit, progress)
    except Infeasible:
        raise _infeasible(space, constraints, request, model, _time_left(request, began)) from None
    except SolveTimeout as timeout:  # no design in time: a limit may be out of reach
        raise _beyond_reach(space, constraints, request, model, _time_left(request, began))[0] or timeout from None
    spec = space.to_spec(solution.point, name=f"deepmad-{request.family}")
    analysis = analyze_spec(spec, space.alpha, space.penalty)
    speed = covered = None
    if request.target_throughput is not None:
        assert model is not None
        speed = predicted_throughput(model, spec)
        if isinstance(model, Predictor):
            covered = check_coverage(model, spec, request)
    profile = model.name if model is not None else None
    return DesignResult(
        spec,
        analysis,
        request.rho0,
        solution.seconds,
        solution.stats,
        speed,
        request.target_throughput,
        profile,
        solution.proven,
        solution.gap,
        covered,
    )


def check_coverage(predictor: Predictor, spec: ArchSpec, request: DesignRequest) -> Coverage:
    """The design's coverage by the profile; a :class:`ParameterError` if its predicted latency is
    mostly extrapolated and the request does not allow that."""
    covered = coverage(predictor, spec)
    if covered.trusted or request.allow_extrapolation:
        return covered
    table = predictor.table
    command = (
        f"designer profile --gpu {table.gpu} --backend {table.backend} --precision {table.precision} "
        f"--batch {table.batch} --resolution {request.resolution} --families {request.family}"
    )
    raise ParameterError(
        f"the design's throughput is not a prediction to trust: {covered.summary()}, beyond what profile "
        f"{predictor.name} measured (at most {MAX_EXTRAPOLATED:.0%} may be); extend the profile on its GPU "
        f"(`{command}`) or pass {{allow_extrapolation}} to accept it"
    )


def _describe(constraint: Constraint, least: Reach, model: LatencyModel | None) -> str:
    """``"with <limit>: the <best reachable value>"`` for one constraint (``least.bound`` when
    the search for it ran out of time: then a limit on the best reachable value)."""
    if constraint.name == LATENCY:
        assert model is not None
        target = throughput_from_latency(model, constraint.limit)
        best = throughput_from_latency(model, least.bound)
        reach = "is" if least.proven else "is at most"
        return f"at {target:,.0f} images/s: the highest reachable throughput {reach} {best:,.0f} images/s"
    label = {"macs": "FLOPs", "params": "params"}.get(constraint.name, constraint.name)
    reach = "is" if least.proven else "is at least"
    return (
        f"with {label} <= {format_count(constraint.limit)}: the smallest feasible {label} budget {reach} "
        f"{format_count(least.bound)}"
    )


def _time_left(request: DesignRequest, began: float) -> float:
    """What is left of the request's time limit since ``began`` (``time.perf_counter()``), for the
    search that explains why the solve found no design."""
    return max(request.time_limit - (time.perf_counter() - began), 0.0)


def _where(request: DesignRequest) -> str:
    return f"no {request.family} design at resolution {request.resolution} meets rho <= {request.rho0:g}"


def _beyond_reach(
    space: SearchSpace,
    constraints: list[Constraint],
    request: DesignRequest,
    model: LatencyModel | None,
    seconds: float,
) -> tuple[Infeasible | None, bool]:
    """The error naming a limit that no design meets under the others, with the best value
    reachable, if one is shown within ``seconds``; and whether each limit alone was shown met."""
    each_met = True
    for constraint, least in cheapest_each(space, constraints, request.rho0, seconds):
        if constraint.limit < least.bound < math.inf:
            scope = " (under the other limits)" if len(constraints) > 1 else ""
            return Infeasible(f"{_where(request)} {_describe(constraint, least, model)}{scope}"), False
        each_met &= least.value is not None and least.value <= constraint.limit
    return None, each_met


def _infeasible(
    space: SearchSpace,
    constraints: list[Constraint],
    request: DesignRequest,
    model: LatencyModel | None,
    seconds: float,
) -> Infeasible:
    error, each_met = _beyond_reach(space, constraints, request, model, seconds)
    if error is not None:
        return error
    if len(constraints) > 1:
        alone = "each alone is feasible" if each_met else "each alone may be"
        return Infeasible(f"{_where(request)} under these limits together; raise one of them ({alone})")
    low, high = RHO_RANGE
    return InfeasibleRho(f"{_where(request)}; raise {{rho}} (valid range {low:g} to {high:g}) or the budgets")
