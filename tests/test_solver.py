"""The solver returns the optimum: it matches exhaustive enumeration on small grids, in the
fixed-shape space (one kernel, a fixed ratio, all stages stride 2) and in the full space (a
kernel and an inner width per stage, a stride-1 stage, the published code's depth penalty)."""

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
from support.enumeration import (
    FIXED,
    FIXED_CASES,
    FULL,
    FULL_CASES,
    enumerate_all,
    feasible,
    fixed_extra,
    stepped_latency,
)

from designer.core.analysis import analyze_spec
from designer.core.errors import DesignerError
from designer.core.request import DesignRequest
from designer.core.solver import (
    PACE_SECONDS,
    Constraint,
    _priced,
    _priced_grid,
    _Problem,
    _Search,
    cheapest,
    cheapest_each,
    flops_limit,
    params_limit,
    solve,
)
from designer.core.space import SearchSpace
from designer.workflows.design import design


def check_optimal(space, flops, params, rho0):
    limits = {name: value for name, value in (("macs", flops), ("params", params)) if value is not None}
    values, evaluation = enumerate_all(space)
    ok = feasible(space, values, evaluation, rho0, limits)
    assert ok.any()
    expected = float(evaluation.objective[ok].max())
    constraints = ([flops_limit(flops)] if flops else []) + ([params_limit(params)] if params else [])
    solution = solve(space, constraints, rho0)
    assert solution.proven and solution.gap == 0
    assert solution.objective == pytest.approx(expected, rel=1e-12)
    analysis = analyze_spec(space.to_spec(solution.point), space.alpha, space.penalty)
    assert analysis.objective == pytest.approx(solution.objective, rel=1e-12)
    assert analysis.report.rho <= rho0 + 1e-12
    assert flops is None or analysis.flops <= flops
    assert params is None or analysis.params <= params
    return solution


@pytest.mark.parametrize("family, flops, params, rho0", FIXED_CASES)
def test_fixed_shape_space_matches_exhaustive_enumeration(family, flops, params, rho0):
    check_optimal(SearchSpace.of(family, **{**FIXED, **fixed_extra(family)}), flops, params, rho0)


@pytest.mark.parametrize("family, extra, flops, params, rho0", FULL_CASES)
def test_full_space_matches_exhaustive_enumeration(family, extra, flops, params, rho0):
    space = SearchSpace.of(family, **{**FULL, **extra})
    assert space.has_kernel() and space.strides[1] == 1
    assert space.has_inner() == (family != "basic")
    solution = check_optimal(space, flops, params, rho0)
    spec = space.to_spec(solution.point)
    assert spec.stages[1].stride == 1 and spec.stages[1].width > spec.stages[0].width  # a stride-1 stage widens


def test_cheapest_matches_enumeration():
    space = SearchSpace.of("basic", **FIXED)
    values, evaluation = enumerate_all(space)
    ok = feasible(space, values, evaluation, 0.3, {})
    least = evaluation.totals["macs"][ok].min()
    reach = cheapest(space, flops_limit(0), [], 0.3)
    assert reach.proven and reach.value == reach.bound == least


def test_cheapest_out_of_time_brackets_the_least_cost():
    space = SearchSpace.of("bottleneck", **FIXED)
    least = cheapest(space, flops_limit(0), [], 0.3)  # proven (as enumeration shows above)
    reach = cheapest(space, flops_limit(0), [], 0.3, time_limit=0.0)
    assert least.proven and least.value is not None and not reach.proven
    assert reach.bound <= least.value and (reach.value is None or reach.value >= least.value)


def test_cheapest_each_prices_once_and_matches_cheapest_for_every_limit():
    space = SearchSpace.of("basic", **FIXED)
    values, evaluation = enumerate_all(space)
    totals = evaluation.totals
    limits = [flops_limit(float(np.median(totals["macs"]))), params_limit(float(np.median(totals["params"])))]
    least = {}
    for constraint, reach in cheapest_each(space, limits, 0.3):
        others = {c.name: c.limit for c in limits if c is not constraint}
        least[constraint.name] = totals[constraint.name][feasible(space, values, evaluation, 0.3, others)].min()
        assert reach.proven and reach.value == least[constraint.name]
    for constraint, reach in cheapest_each(space, limits, 0.3, time_limit=0.0):  # no time: a bracket
        assert reach.bound <= least[constraint.name] <= (np.inf if reach.value is None else reach.value)


def test_search_for_the_reachable_budgets_after_a_solve_reuses_its_priced_grid():
    space = SearchSpace.of("basic", **FIXED)
    limits = [flops_limit(1e8), params_limit(1e6)]
    solve(space, limits, 0.3)
    hits = _priced_grid.cache_info().hits
    next(cheapest_each(space, limits, 0.3))
    assert _priced_grid.cache_info().hits == hits + 1


def test_solves_of_one_space_and_costs_under_other_limits_share_its_priced_grid():
    """The rounds of ``--verify`` ask for other throughputs: the same costs under other limits."""
    space = SearchSpace.of("basic", **FIXED)
    first = _priced(space, (flops_limit(1e8), params_limit(1e6)), 0.3)
    second = _priced(space, (flops_limit(2e8), params_limit(1e6)), 0.3)
    assert second.evaluate is first.evaluate and second.evaluate_low is first.evaluate_low
    assert [c.limit for c in first.constraints] == [1e8, 1e6] and [c.limit for c in second.constraints] == [2e8, 1e6]
    assert first.relaxation.limits.tolist() == [1e8, 1e6] and second.relaxation.limits.tolist() == [2e8, 1e6]


def test_full_size_budget_is_feasible_within_the_time_limit():
    result = design(DesignRequest(family="bottleneck", flops=4.1e9, params=25.6e6, time_limit=3))
    assert result.analysis.flops <= 4.1e9 and result.analysis.params <= 25.6e6
    assert result.analysis.report.rho <= 0.3
    widths = [result.spec.stem.width] + [s.width for s in result.spec.stages]
    assert widths == sorted(widths) and all(w % 8 == 0 for w in widths)
    assert result.proven or result.gap > 0


def test_infeasible_budget_names_smallest_feasible_budget():
    with pytest.raises(DesignerError, match=r"smallest feasible FLOPs budget is \d"):
        design(DesignRequest(family="mbv2", flops=10e6, kernel=(5,), expansion=6, stages=5))
    with pytest.raises(DesignerError, match="rho must be a finite number at least 0.05 and at most 5"):
        design(DesignRequest(family="basic", flops=1e9, rho=9.0))
    with pytest.raises(DesignerError, match="family 'vit' is not one of"):
        design(DesignRequest(family="vit", flops=1e9))
    with pytest.raises(DesignerError, match="at least one budget"):
        design(DesignRequest(family="basic"))


BOUND_CASES = [
    ("basic", FIXED, {}, 4e6, 80e3, 0.5),
    ("bottleneck", FIXED, {"expansion": 2}, 4e6, 80e3, 0.5),
    ("mbv2", FIXED, {"head_width": 64, "expansion": 6}, 4e6, 80e3, 0.5),
    *((family, FULL, extra, 2 * (flops or 2e6), 2 * params, rho0) for family, extra, flops, params, rho0 in FULL_CASES),
]


@pytest.mark.parametrize("family, base, extra, flops, params, rho0", BOUND_CASES)
def test_bounds_never_cut_off_a_feasible_design(family, base, extra, flops, params, rho0):
    """On random boxes, the bound is at least the best feasible design inside (enumerated)."""
    space = SearchSpace.of(family, **{**base, **extra})
    problem = _Problem(space, [flops_limit(flops), params_limit(params)], rho0)
    rng = np.random.default_rng(1)
    grids = problem.grids
    checked = 0
    for _ in range(250):
        lo = rng.integers(0, problem.sizes)
        hi = np.minimum(lo + rng.integers(0, 3, len(lo)), problem.sizes - 1)
        bound = problem.bound(lo[None], hi[None])[0][0]
        axes = [np.arange(a, b + 1) for a, b in zip(lo, hi)] + [np.arange(len(grids[problem.last]))]
        combos = np.array(list(itertools.product(*axes)))
        names = problem.dims + [problem.last]
        values = {n: grids[n][combos[:, i]] for i, n in enumerate(names)}
        evaluation = space.evaluate(values)
        ok = feasible(space, values, evaluation, rho0, {"macs": flops, "params": params})
        if ok.any():
            checked += 1
            assert bound >= evaluation.objective[ok].max() - 1e-9
    assert checked >= 12


@pytest.mark.parametrize(
    "family, base, extra, rho0",
    [
        ("basic", FIXED, {}, 0.5),
        ("mbv2", FIXED, fixed_extra("mbv2"), 0.5),
        ("bottleneck", FULL, {"ratio": (1.0, 3.0)}, 0.5),
        ("mbv2", FULL, {"ratio": (1.5, 2.0), "max_width": 16, "head_width": 32}, 1.2),
    ],
)
def test_non_monotone_cost_matches_enumeration(family, base, extra, rho0):
    space = SearchSpace.of(family, **{**base, **extra})
    values, evaluation = enumerate_all(space, [("latency", stepped_latency)])
    ok = feasible(space, values, evaluation, rho0, {})
    limit = float(np.quantile(evaluation.totals["latency"][ok], 0.3))
    latency = Constraint("latency", limit, layer_cost=stepped_latency, monotone=False, convex=False)
    ok &= evaluation.totals["latency"] <= limit
    assert ok.any() and not ok.all()
    solution = solve(space, [latency], rho0)
    assert solution.proven
    assert solution.objective == pytest.approx(float(evaluation.objective[ok].max()), rel=1e-12)


def test_time_limit_returns_the_best_design_with_its_gap():
    """In the whole space, the root's Lagrangian relaxation gives the bound (the first-order bound
    alone leaves a gap near 200 %). How far it gets in 2 s depends on the machine's load (0.30 on
    the 2-core VM with the suite's other worker busy), so the test checks only that it was used."""
    space = SearchSpace.of("bottleneck", flops=4.1e9, params=25.6e6)
    solution = solve(space, [flops_limit(4.1e9), params_limit(25.6e6)], 0.3, time_limit=2)
    assert not solution.proven and solution.bound > solution.objective > 0
    assert solution.gap == pytest.approx((solution.bound - solution.objective) / solution.objective)
    assert solution.gap < 0.5


def test_a_latency_limit_near_the_fastest_design_gets_a_first_design_from_the_cheapest_search():
    """No starting design meets a latency limit about 10 % above the least reachable (32.5 here,
    found by ``cheapest``), so the search had nothing to climb from; the search for the cheapest
    design supplies one that does."""
    space = SearchSpace(DesignRequest(family="bottleneck"))
    limit = 36.0
    problem = _Problem(space, [Constraint("latency", limit, stepped_latency, monotone=False, convex=False)], 0.3)
    search = _Search(problem, None, None, 0.0)
    search.offer(problem.seeds(), climb=3, always=True)
    assert search.best_value == -np.inf
    search.offer_cheapest()
    point = problem.design(search.best_point, search.best_last)
    evaluation = space.evaluate({k: np.array([v]) for k, v in point.items()}, [("latency", stepped_latency)])
    assert search.best_value > 0 and evaluation.totals["latency"][0] <= limit


def test_climbs_taken_together_end_where_each_climb_alone_ends_at_a_local_optimum():
    """The local search climbs many designs in lockstep (one evaluation per step for all); each
    ends where it would have ended alone, at a design no neighbour beats."""
    space = SearchSpace.of("bottleneck", flops=4.1e9, params=25.6e6)
    problem = _Problem(space, [flops_limit(4.1e9), params_limit(25.6e6)], 0.3)
    starts = problem.seeds()
    values, widest = problem.exact(starts)
    some = np.flatnonzero(values > -np.inf)[::40]  # a few feasible ones, of different scales
    starts, values, widest = starts[some], values[some], widest[some]
    assert len(starts) >= 3
    together = problem.improve(starts, values, widest)
    for j in range(len(starts)):
        alone = problem.improve(starts[j : j + 1], values[j : j + 1], widest[j : j + 1])
        assert np.array_equal(alone[0][0], together[0][j]) and alone[1][0] == together[1][j]
        neighbours = np.clip(together[0][j] + problem.moves(), 0, problem.sizes - 1)
        assert problem.exact(neighbours)[0].max() <= together[1][j]
        assert together[1][j] >= values[j]


def test_shallower_copies_of_a_design_too_deep_for_the_budget_fit_it():
    """The relaxation's designs are mostly too deep for the costs (its Lagrangian is linear in each
    depth); their shallower copies keep every width, inner width and kernel, scale the depths down,
    and some of them fit."""
    space = SearchSpace.of("bottleneck", flops=4.1e9, params=25.6e6)
    problem = _Problem(space, [flops_limit(4.1e9), params_limit(25.6e6)], 0.3)
    starts = problem.seeds()
    values = problem.exact(starts)[0]
    best = np.argsort(-values)[:2]
    deep = problem.improve(starts[best], values[best], problem.exact(starts[best])[1])[0]  # local optima
    depths = [d for d, name in enumerate(problem.dims) if name.startswith("depth")]
    deep[:, depths] = problem.sizes[depths] - 1
    assert (problem.exact(deep)[0] == -np.inf).all()
    copies = problem.shallower(deep).reshape(-1, *deep.shape)
    others = [d for d in range(len(problem.dims)) if d not in depths]
    assert (copies[..., others] == deep[None][..., others]).all()
    assert (copies[..., depths] <= deep[None][..., depths]).all() and (copies[..., depths] >= 0).all()
    assert (np.diff(copies[..., depths], axis=0) >= 0).all()  # deeper as the scale grows
    assert (problem.exact(copies.reshape(-1, len(problem.dims)))[0] > -np.inf).any()


@pytest.mark.parametrize("family, extra, flops, params, rho0", FULL_CASES[1:3])
def test_search_around_the_incumbent_is_exact_in_each_box_and_proves_the_whole_space(
    family, extra, flops, params, rho0
):
    """From the worst design of the space, the search of the box of indices within one step of it
    ends at that box's best design; the search around the incumbent, grown until its box holds
    every design, ends at the optimum and says so."""
    space = SearchSpace.of(family, **{**FULL, **extra})
    limits = {name: value for name, value in (("macs", flops), ("params", params)) if value is not None}
    values, evaluation = enumerate_all(space)
    objective = np.where(feasible(space, values, evaluation, rho0, limits), evaluation.objective, -np.inf)
    constraints = ([flops_limit(flops)] if flops else []) + ([params_limit(params)] if params else [])
    problem = _Problem(space, constraints, rho0)
    grid = np.stack([np.searchsorted(problem.grids[name], values[name]) for name in problem.dims], 1)
    worst = grid[np.argmin(np.where(np.isfinite(objective), objective, np.inf))]
    around = (np.abs(grid - worst).max(1) <= 1) & np.isfinite(objective)
    assert objective[around].max() > objective[around].min()  # the box holds better designs
    with ThreadPoolExecutor(1) as pool:
        search = _at(problem, worst)
        box = search.search_box(pool, 1, np.maximum(worst - 1, 0), np.minimum(worst + 1, problem.sizes - 1))
        assert _returned(box) is True
        assert search.best_value == pytest.approx(objective[around].max(), rel=1e-12)
        search = _at(problem, worst)
        assert _returned(search.neighbourhoods(pool, 1)) is True
    assert search.best_value == pytest.approx(objective.max(), rel=1e-12)


def _at(problem, point):
    """A search whose incumbent is ``point`` (indices of the branched variables)."""
    search = _Search(problem, None, None, 0.0)
    assert search.adopt(point)
    return search


def _returned(steps):
    """What a generator returns once run to its end."""
    while True:
        try:
            next(steps)
        except StopIteration as end:
            return end.value


def test_boxes_whose_bound_falls_fast_enough_take_the_relaxations_place():
    """Beside the relaxation, the batches keep splitting boxes while their bound, its excess over
    the incumbent shrinking at half its rate so far, would fall below the relaxation's by the time
    limit (as under the paper's depth penalty); undecided until they have run PACE_SECONDS."""
    problem = _Problem(SearchSpace.of("basic", **FIXED), [flops_limit(4e6)], 0.5)
    now = time.perf_counter()
    search = _Search(problem, 10.0, None, now)
    search.best_value = 0.0
    search.relaxation = SimpleNamespace(cap=100.0, done=False, rooted=now - 10.0)  # before the batches
    early = [(now - 0.5 * PACE_SECONDS, 1000.0), (now, 500.0)]
    assert search._gaining(early) is None
    falling = [(now - PACE_SECONDS, 1000.0), (now, 400.0)]  # far below the relaxation's 100 by the limit
    settled = [(now - PACE_SECONDS, 1000.0), (now, 990.0)]
    assert search._gaining(falling) is True and search._gaining(settled) is False
    reach = 990.0 * 0.99 ** (10.0 / 2 / PACE_SECONDS)  # shrinking by 1 % per PACE_SECONDS for half of 10 s
    search.relaxation.cap = reach + 1.0  # just above it
    assert search._gaining(settled) is True
    search.relaxation.cap, search.best_value = 100.0, 995.0  # the boxes are at the incumbent already
    assert search._gaining(settled) is True


def test_a_straight_line_would_overrate_the_boxes():
    """The boxes' excess over the incumbent shrinks by a fraction per second at best: a bound that
    fell by 50 in PACE_SECONDS, 10 above the incumbent's 90 at the relaxation's 100, keeps most of
    its 160 of excess by the limit (kept up in a straight line, it would fall 500)."""
    problem = _Problem(SearchSpace.of("basic", **FIXED), [flops_limit(4e6)], 0.5)
    now = time.perf_counter()
    search = _Search(problem, 10.0, None, now)
    search.best_value = 90.0
    search.relaxation = SimpleNamespace(cap=100.0, done=False, rooted=now - 10.0)
    assert search._gaining([(now - PACE_SECONDS, 300.0), (now, 250.0)]) is False


def test_the_boxes_pace_is_taken_since_the_relaxations_root_bound_came():
    """A bound that fell fast before the relaxation's root bound came and has nearly settled since
    is judged by its pace since then: at its pace since the batches began it would pass the
    relaxation's, as the boxes of 600-s limits seemed to, which stopped the relaxation after its root."""
    problem = _Problem(SearchSpace.of("basic", **FIXED), [flops_limit(4e6)], 0.5)
    now = time.perf_counter()
    search = _Search(problem, 10.0, None, now)
    search.best_value = 0.0
    settling = [(now - 3 * PACE_SECONDS, 1000.0), (now - 2 * PACE_SECONDS, 200.0), (now, 195.0)]
    search.relaxation = SimpleNamespace(cap=100.0, done=False, rooted=now - 1.5 * PACE_SECONDS)
    assert search._gaining(settling) is False  # 2.5 % less excess per 2 PACE_SECONDS: 172 by the limit
    search.relaxation.rooted = now - 3 * PACE_SECONDS
    assert search._gaining(settling) is True
    search.relaxation.rooted = now  # no batch since it came
    assert search._gaining(settling) is None
