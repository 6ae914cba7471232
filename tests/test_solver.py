"""The solver returns the optimum: it matches exhaustive enumeration on small grids."""

import itertools

import numpy as np
import pytest

from designer.core.analysis import analyze_spec
from designer.core.entropy import effectiveness
from designer.core.errors import DesignerError
from designer.core.request import DesignRequest
from designer.core.solver import cheapest, flops_limit, params_limit, solve
from designer.core.space import SearchSpace
from designer.workflows.design import design


def enumerate_optimum(space: SearchSpace, flops: float | None, params: float | None, rho0: float) -> float:
    grids = space.grids()
    names = list(grids)
    combos = np.array(list(itertools.product(*[grids[n] for n in names])), dtype=float)
    values = {n: combos[:, i] for i, n in enumerate(names)}
    evaluation = space.evaluate(values)
    ok = np.ones(len(combos), dtype=bool)
    chain = ["stem"] + [f"width{s}" for s in range(1, space.body_stages + 1)]
    for a, b in zip(chain, chain[1:]):
        ok &= values[a] <= values[b]
    if flops is not None:
        ok &= evaluation.totals["macs"] <= flops
    if params is not None:
        ok &= evaluation.totals["params"] <= params
    ok &= effectiveness(evaluation.totals["layers"], evaluation.totals["log_width"]) <= rho0
    return float(evaluation.objective[ok].max()) if ok.any() else -np.inf


SMALL = dict(
    resolution=32,
    stages=3,
    width_step=8,
    max_width=96,
    min_stem_width=8,
    max_stem_width=24,
    max_depth=5,
    num_classes=10,
)
CASES = [
    ("basic", 6e6, 60e3, 0.3),
    ("basic", 2e6, None, 0.5),
    ("bottleneck", 8e6, 40e3, 0.3),
    ("bottleneck", None, 120e3, 0.6),
    ("mbv2", 3e6, 60e3, 1.0),
    ("mbv2", 1.5e6, None, 2.0),
]


@pytest.mark.parametrize("family, flops, params, rho0", CASES)
def test_matches_exhaustive_enumeration(family, flops, params, rho0):
    extra = {"expansion": 2} if family == "bottleneck" else ({"head_width": 64} if family == "mbv2" else {})
    space = SearchSpace.of(family, **SMALL, **extra)
    constraints = ([flops_limit(flops)] if flops else []) + ([params_limit(params)] if params else [])
    expected = enumerate_optimum(space, flops, params, rho0)
    assert np.isfinite(expected)
    solution = solve(space, constraints, rho0)
    assert solution.objective == pytest.approx(expected, rel=1e-12)
    analysis = analyze_spec(space.to_spec(solution.point), space.alpha, space.beta)
    assert analysis.objective == pytest.approx(solution.objective, rel=1e-12)
    assert analysis.report.rho <= rho0 + 1e-12
    assert flops is None or analysis.flops <= flops
    assert params is None or analysis.params <= params


def test_cheapest_matches_enumeration():
    space = SearchSpace.of("basic", **SMALL)
    grids = space.grids()
    names = list(grids)
    combos = np.array(list(itertools.product(*[grids[n] for n in names])), dtype=float)
    values = {n: combos[:, i] for i, n in enumerate(names)}
    evaluation = space.evaluate(values)
    ok = effectiveness(evaluation.totals["layers"], evaluation.totals["log_width"]) <= 0.3
    for a, b in zip(["stem", "width1"], ["width1", "width2"]):
        ok &= values[a] <= values[b]
    assert cheapest(space, flops_limit(0), [], 0.3) == evaluation.totals["macs"][ok].min()


def test_full_size_budget_is_solved_and_feasible():
    result = design(DesignRequest(family="bottleneck", flops=4.1e9, params=25.6e6))
    assert result.analysis.flops <= 4.1e9 and result.analysis.params <= 25.6e6
    assert result.analysis.report.rho <= 0.3
    widths = [result.spec.stem.width] + [s.width for s in result.spec.stages]
    assert widths == sorted(widths)
    assert all(w % 8 == 0 for w in widths)


def test_infeasible_budget_names_smallest_feasible_budget():
    with pytest.raises(DesignerError, match=r"smallest feasible FLOPs budget is \d"):
        design(DesignRequest(family="mbv2", flops=10e6))
    with pytest.raises(DesignerError, match="rho must be a finite number at least 0.05 and at most 5"):
        design(DesignRequest(family="basic", flops=1e9, rho=9.0))
    with pytest.raises(DesignerError, match="family 'vit' is not one of"):
        design(DesignRequest(family="vit", flops=1e9))
    with pytest.raises(DesignerError, match="at least one budget"):
        design(DesignRequest(family="basic"))


@pytest.mark.parametrize("family", ["basic", "bottleneck", "mbv2"])
def test_bounds_never_cut_off_a_feasible_design(family):
    """On random boxes, the bound is at least the best feasible design inside (enumerated)."""
    from designer.core.solver import _Problem

    extra = {"expansion": 2} if family == "bottleneck" else ({"head_width": 64} if family == "mbv2" else {})
    space = SearchSpace.of(family, **SMALL, **extra)
    problem = _Problem(space, [flops_limit(4e6), params_limit(80e3)], 0.5)
    rng = np.random.default_rng(1)
    grids = problem.grids
    checked = 0
    for _ in range(200):
        lo = rng.integers(0, problem.sizes)
        hi = np.minimum(lo + rng.integers(0, 3, len(lo)), problem.sizes - 1)
        bound = problem.bound(lo[None], hi[None])[0][0]
        axes = [np.arange(a, b + 1) for a, b in zip(lo, hi)] + [np.arange(len(grids[problem.last]))]
        combos = np.array(list(itertools.product(*axes)))
        names = problem.dims + [problem.last]
        values = {n: grids[n][combos[:, i]] for i, n in enumerate(names)}
        evaluation = space.evaluate(values)
        ok = (evaluation.totals["macs"] <= 4e6) & (evaluation.totals["params"] <= 80e3)
        ok &= effectiveness(evaluation.totals["layers"], evaluation.totals["log_width"]) <= 0.5
        chain = ["stem"] + [f"width{s}" for s in range(1, space.body_stages + 1)]
        for a, b in zip(chain, chain[1:]):
            ok &= values[a] <= values[b]
        if ok.any():
            checked += 1
            assert bound >= evaluation.objective[ok].max() - 1e-9
    assert checked >= 20


def stepped_latency(layer):
    """A latency-like cost with tile steps and a non-monotone wobble, as measured tables have."""
    tiles = np.ceil(np.asarray(layer.cin, dtype=float) / 16) * np.ceil(np.asarray(layer.cout, dtype=float) / 32)
    wobble = 1.0 + 0.1 * (np.asarray(layer.cout, dtype=float) % 24 == 8)
    value = (1e-6 * tiles * layer.kernel**2 * layer.res_out**2 + 2e-5 * layer.activations + 1e-3) * wobble
    return value if layer.present is True else value * layer.present


@pytest.mark.parametrize("family", ["basic", "mbv2"])
def test_non_monotone_cost_matches_enumeration(family):
    from designer.core.solver import Constraint

    extra = {"head_width": 64} if family == "mbv2" else {}
    space = SearchSpace.of(family, **SMALL, **extra)
    grids = space.grids()
    names = list(grids)
    combos = np.array(list(itertools.product(*[grids[n] for n in names])), dtype=float)
    values = {n: combos[:, i] for i, n in enumerate(names)}
    evaluation = space.evaluate(values, [("latency", stepped_latency)])
    ok = effectiveness(evaluation.totals["layers"], evaluation.totals["log_width"]) <= 0.5
    limit = float(np.quantile(evaluation.totals["latency"][ok], 0.3))
    latency = Constraint("latency", limit, layer_cost=stepped_latency, monotone=False, convex=False)
    ok &= evaluation.totals["latency"] <= limit
    chain = ["stem"] + [f"width{s}" for s in range(1, space.body_stages + 1)]
    for a, b in zip(chain, chain[1:]):
        ok &= values[a] <= values[b]
    assert ok.any() and not ok.all()
    solution = solve(space, [latency], 0.5)
    assert solution.objective == pytest.approx(float(evaluation.objective[ok].max()), rel=1e-12)
