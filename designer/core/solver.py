"""Exact solver of the DeepMAD mathematical program on the design grid.

Problem
-------
Maximise ``sum_i alpha_i H_i - beta * exp(Var(stage depths))`` over the grid of
:class:`~designer.core.space.SearchSpace`, subject to ``rho <= rho0``, every cost constraint
(FLOPs, params, predicted latency) within its limit, and non-decreasing widths
``stem <= width1 <= ... <= width_m``.

Integrality and the grids
-------------------------
Every variable is an index into a sorted grid (widths on multiples of the width step,
integer depths), so integrality and the hardware grid are part of the problem: the solver
never rounds a continuous answer, and what it returns is a grid point it evaluated exactly.

Method: branch and bound over boxes of grid indices
---------------------------------------------------
Entropy never decreases and no cost decreases when any index grows (``designer.core.space``).

* The last stage's width is not branched on. For any other choice it should be as wide as
  the constraints allow (wider raises entropy and helps ``rho``), so it is set to the widest
  grid width that fits, found by binary search; over a box it is at most the width that fits
  with every other variable at the box's low corner.
* Elimination bound: entropy at the high corner with that width, minus the least depth
  penalty the box's depth ranges allow.
* First-order bound (``_Problem.linear_bound``): entropy is concave along every variable and
  has increasing differences, costs are convex with increasing differences, and ``rho <= rho0``
  is ``S >= L log(L / rho0)`` with a convex right side. Together they give a linear
  programme over the box whose optimum bounds the entropy of every feasible design in it;
  any Lagrange multipliers bound that programme in turn.
* The cheap elimination bound comes first; only boxes it leaves open (above the best design
  found) get the first-order bound, which costs some thirty evaluations per box.
* Narrowing: the same linear limits bound how far each branched variable can rise from the
  box's low corner (the others at their most favourable ends); tops beyond it are cut off.
* A box is infeasible when the budgets fail at its low corner, when ``rho`` cannot be met
  even at its high corner, or when its width ranges admit no non-decreasing sequence.

Boxes are split in halves best bound first, in vectorised batches, along the dimension that
contributes most to the first-order bound. Every box's midpoint is evaluated, and each new
best design is hill-climbed, to find good designs early. A box is dropped only when its
bound is no better than the best design found, so when no box remains the best design is
the optimum of the grid problem. Large batches are bounded in chunks on a few threads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from designer.core.entropy import min_sum_log_width
from designer.core.errors import Infeasible, SolveTimeout
from designer.core.space import Evaluation, GridEvaluator, SearchSpace

BATCH = 2048
LAST_SEGMENTS = 8
DUAL_ROUNDS = 3
MAX_THREADS = 4
MIN_CHUNK = 256  # boxes per thread below which splitting a batch costs more than it saves


@dataclass(frozen=True)
class Constraint:
    """``totals[name] <= limit`` for a total of the cost model or of ``layer_cost``.

    ``layer_cost`` prices one layer (arrays allowed) for costs the cost model lacks. A cost
    that is not ``monotone`` in every index (measured latency) is bounded through its
    monotone envelope. ``convex`` costs (convex along each variable, with increasing
    differences) enter the first-order bound as they are, others through a convex
    under-estimate.
    """

    name: str
    limit: float
    layer_cost: Callable[[Any], Any] | None = None
    monotone: bool = True
    convex: bool = True


def flops_limit(limit: float) -> Constraint:
    return Constraint("macs", limit)


def params_limit(limit: float) -> Constraint:
    return Constraint("params", limit)


@dataclass
class SolveStats:
    boxes: int = 0
    evaluated: int = 0
    iterations: int = 0


@dataclass(frozen=True)
class Solution:
    point: dict[str, float]
    objective: float
    entropy: float
    seconds: float
    stats: SolveStats = field(default_factory=SolveStats)


Index = dict[str, np.ndarray]


class _Problem:
    """Grids, branched dimensions, evaluation and bounds of one solve."""

    def __init__(self, space: SearchSpace, constraints: Sequence[Constraint], rho0: float) -> None:
        self.space, self.rho0 = space, rho0
        self.constraints = list(constraints)
        costs = [(c.name, c.layer_cost) for c in self.constraints if c.layer_cost is not None]
        lower = [c.name for c in self.constraints if not c.convex]
        self.evaluate = GridEvaluator(space, costs, lower=lower)
        self.evaluate_low = (
            self.evaluate
            if all(c.monotone for c in self.constraints)
            else GridEvaluator(space, costs, envelope=True, lower=lower)
        )
        self.grids = self.evaluate.grids
        self.names = list(self.grids)
        self.last = f"width{space.body_stages}"
        self.dims = [name for name in self.names if name != self.last]
        self.sizes = np.array([len(self.grids[name]) for name in self.dims])
        self.pairs = space.ordered_pairs()
        self.depths = [f"depth{s}" for s in range(1, space.body_stages + 1)]
        # the first-order bound takes convex costs as they are, the others by a convex under-estimate
        self.linear = [(c.name if c.convex else f"{c.name}.lower", c.limit) for c in self.constraints]

    # --- boxes ---------------------------------------------------------------------------------
    def unpack(self, lo: np.ndarray, hi: np.ndarray) -> tuple[Index, Index]:
        """Boxes as per-variable index arrays; the last width spans its whole grid."""
        lo_d = {name: lo[:, d].copy() for d, name in enumerate(self.dims)}
        hi_d = {name: hi[:, d].copy() for d, name in enumerate(self.dims)}
        lo_d[self.last] = np.zeros(len(lo), dtype=np.int64)
        hi_d[self.last] = np.full(len(lo), len(self.grids[self.last]) - 1)
        return lo_d, hi_d

    def pack(self, index: Index) -> np.ndarray:
        return np.stack([index[name] for name in self.dims], 1)

    def tighten(self, lo: Index, hi: Index) -> np.ndarray:
        """Narrow ranges by the ``a <= b`` pairs, in place; returns which boxes stay non-empty."""
        for a, b in self.pairs:
            lo[b] = np.maximum(lo[b], np.searchsorted(self.grids[b], self.value(a, lo[a]), "left"))
        for a, b in reversed(self.pairs):
            hi[a] = np.minimum(hi[a], np.searchsorted(self.grids[a], self.value(b, hi[b]), "right") - 1)
        ok = np.ones(len(lo[self.last]), dtype=bool)
        for name in self.names:
            ok &= lo[name] <= hi[name]
        return ok

    def value(self, name: str, index: np.ndarray) -> np.ndarray:
        """Grid values at indices (clipped: an emptied range may step one past either end)."""
        grid = self.grids[name]
        return grid[np.clip(index, 0, len(grid) - 1)]

    # --- costs and the last width --------------------------------------------------------------
    def fits(self, totals: Any) -> np.ndarray:
        ok = np.ones(totals.data.shape[1], dtype=bool)
        for constraint in self.constraints:
            ok &= totals[constraint.name] <= constraint.limit
        return ok

    def widest_last(self, index: Index, floor: np.ndarray, exact: bool) -> np.ndarray:
        """Largest last-width index ``>= floor`` that fits; ``floor - 1`` where none does.

        Binary search on the costs' monotone lower bounds; with ``exact`` the answer is then
        checked on exact costs and stepped down where a cost is not monotone.
        """
        low, high = floor.copy(), np.full(len(floor), len(self.grids[self.last]) - 1)
        found = floor - 1
        prefix = self.evaluate_low.prefix(index)
        active = low <= high
        while active.any():
            rows = np.flatnonzero(active)
            mid = (low[rows] + high[rows]) // 2
            part = self.evaluate_low.last_part({k: v[rows] for k, v in index.items()}, mid)
            ok = self.fits(prefix.take(rows) + part)
            found[rows[ok]] = mid[ok]
            low[rows[ok]] = mid[ok] + 1
            high[rows[~ok]] = mid[~ok] - 1
            active = low <= high
        if exact and self.evaluate_low is not self.evaluate:
            prefix = self.evaluate.prefix(index)
            pending = found >= floor
            while pending.any():
                rows = np.flatnonzero(pending)
                part = self.evaluate.last_part({k: v[rows] for k, v in index.items()}, found[rows])
                bad = rows[~self.fits(prefix.take(rows) + part)]
                found[bad] -= 1
                pending[:] = False
                pending[bad] = found[bad] >= floor[bad]
        return found

    # --- bounds ---------------------------------------------------------------------------------
    def min_penalty(self, lo: Index, hi: Index) -> np.ndarray:
        """``beta * exp(min Var)`` over the depth box, a valid lower bound on the penalty.

        ``m * min Var = min_t sum_i dist(t, [lo_i, hi_i])^2``, a convex piecewise quadratic in
        ``t`` with breakpoints at the range ends: its minimum is at a breakpoint or at the
        stationary point of one segment, all of which are tried.
        """
        lows = np.stack([self.value(n, lo[n]) for n in self.depths], -1)
        highs = np.stack([self.value(n, hi[n]) for n in self.depths], -1)
        points = np.sort(np.concatenate([lows, highs], -1), -1)
        candidates = [points[:, j] for j in range(points.shape[1])]
        for j in range(points.shape[1] - 1):
            a, b = points[:, j], points[:, j + 1]
            t = ((a + b) / 2)[:, None]
            above, below = t > highs, t < lows
            count = above.sum(-1) + below.sum(-1)
            total = np.where(above, highs, 0).sum(-1) + np.where(below, lows, 0).sum(-1)
            stationary = np.clip(total / np.maximum(count, 1), a, b)
            candidates.append(np.where(count > 0, stationary, t[:, 0]))
        t = np.stack(candidates, -1)[:, :, None]
        spread = ((np.clip(t, lows[:, None, :], highs[:, None, :]) - t) ** 2).sum(-1).min(-1)
        return self.space.beta * np.exp(spread / len(self.depths))

    def linear_bound(self, lo: Index, hi: Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """First-order bound on the entropy of feasible designs of each box, each branched
        dimension's share of the bound, and the largest step from ``lo`` (in grid values) that
        each branched dimension can take under the linear limits.

        Entropy and the sum of log-widths ``S`` have increasing differences and are concave
        along every variable. Telescoping ``E(x) - E(lo)`` one variable at a time, each
        increment is at most the same increment with the variables already moved put at ``hi``,
        and concavity bounds that by the first step's slope: ``E(x) - E(lo) <= sum_j G_j
        (x_j - lo_j)``, ``G_j`` taken from the point with earlier variables at ``hi`` and later
        ones at ``lo`` (likewise for ``S``). Convex costs and the layer count ``L`` have
        increasing differences, so ``C(x) - C(lo) >= sum_j c_j (x_j - lo_j)`` with ``c_j`` the
        first step's slope at ``lo``. ``rho <= rho0`` reads ``S >= g(L) = L log(L / rho0)``
        with ``g`` convex, and its tangent at ``L(lo)`` makes it one more linear limit. The last
        width, never branched on, enters first and in segments, each with its own slopes.
        """
        n = len(lo[self.last])
        rows: list[Index] = [lo]

        def add(row: Index) -> int:
            rows.append(row)
            return len(rows) - 1

        # item: (name, start, end, entropy rows (start, step), cost rows (start, step))
        items = []
        span = hi[self.last] - lo[self.last]
        cuts = [lo[self.last] + (span * k) // LAST_SEGMENTS for k in range(LAST_SEGMENTS + 1)]
        for a, b in zip(cuts, cuts[1:]):
            pair = (add({**lo, self.last: a}), add({**lo, self.last: np.minimum(a + 1, b)}))
            items.append((self.last, a, b, pair, pair))
        base = {**lo, self.last: hi[self.last]}
        for name in self.dims:
            if not (hi[name] > lo[name]).any():
                continue
            step = np.minimum(lo[name] + 1, hi[name])
            entropy_rows = (add(dict(base)), add({**base, name: step}))
            items.append((name, lo[name], hi[name], entropy_rows, (0, add({**lo, name: step}))))
            base[name] = hi[name]
        evaluation = self.evaluate({name: np.concatenate([row[name] for row in rows]) for name in self.names})

        def table(values: np.ndarray) -> np.ndarray:
            return values.reshape(len(rows), n)

        entropy, log_width, layers = (
            table(evaluation.entropy),
            table(evaluation.totals["log_width"]),
            table(evaluation.totals["layers"]),
        )
        costs = [table(evaluation.totals[name]) for name, _ in self.linear]
        tangent = np.log(layers[0] / self.rho0) + 1.0
        gains, sizes = [], []
        limits: list[list[np.ndarray]] = [[] for _ in range(len(self.linear) + 1)]
        for name, a, b, at_hi, at_lo in items:
            start = self.value(name, a)
            first = self.value(name, np.minimum(a + 1, b)) - start
            gains.append(_slope(entropy, at_hi, first))
            for k, cost in enumerate(costs):
                limits[k].append(_slope(cost, at_lo, first))
            limits[-1].append(tangent * _slope(layers, at_lo, first) - _slope(log_width, at_hi, first))
            sizes.append(self.value(name, b) - start)
        rooms = [limit - cost[0] for (_, limit), cost in zip(self.linear, costs)]
        rooms.append(log_width[0] - min_sum_log_width(layers[0], self.rho0))
        gain, size = np.stack(gains, 1), np.stack(sizes, 1)
        coefficients = np.stack([np.stack(limit, 1) for limit in limits])
        bound = entropy[0] + _lagrangian_bound(gain, size, coefficients, np.stack(rooms))
        reach = _linear_reach(size, coefficients, np.stack(rooms))
        shares = np.zeros((n, len(self.dims)))
        steps = np.full((n, len(self.dims)), np.inf)
        for j, (name, *_) in enumerate(items):
            if name != self.last:
                shares[:, self.dims.index(name)] += gain[:, j] * size[:, j]
                steps[:, self.dims.index(name)] = reach[:, j]
        return bound, shares, steps

    def narrow(self, rows: np.ndarray, lo_r: Index, hi: Index, steps: np.ndarray) -> None:
        """Lower the tops of boxes ``rows`` to the largest step from ``lo`` the linear limits allow."""
        for d, name in enumerate(self.dims):
            reach = self.value(name, lo_r[name]) + steps[:, d] * (1 + 1e-9) + 1e-9
            top = np.searchsorted(self.grids[name], reach, "right") - 1
            hi[name][rows] = np.minimum(hi[name][rows], np.maximum(top, lo_r[name]))

    def bound(
        self, lo_box: np.ndarray, hi_box: np.ndarray, best: float = -np.inf
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Upper bounds of the objective over boxes (``-inf``: no feasible design), the boxes
        narrowed by the ordering pairs and the linear limits, and the dimension to split each
        along. Boxes whose elimination bound is already at most ``best`` skip the rest."""
        n = len(lo_box)
        lo, hi = self.unpack(lo_box, hi_box)
        ok = self.tighten(lo, hi)
        widest = np.full(n, -1)
        rows = np.flatnonzero(ok)
        if rows.size:
            widest[rows] = self.widest_last({k: v[rows] for k, v in lo.items()}, lo[self.last][rows], exact=False)
        ok &= widest >= lo[self.last]
        hi[self.last] = np.where(ok, widest, hi[self.last])
        ok &= self.tighten(lo, hi)
        upper = np.full(n, -np.inf)
        split = np.argmax((hi_box - lo_box) / np.maximum(self.sizes - 1, 1), 1)
        rows = np.flatnonzero(ok)
        if rows.size:
            lo_r = {k: v[rows] for k, v in lo.items()}
            hi_r = {k: v[rows] for k, v in hi.items()}
            top, bottom = self.evaluate(hi_r), self.evaluate(lo_r)
            reachable = top.totals["log_width"] >= min_sum_log_width(bottom.totals["layers"], self.rho0)
            penalty = self.min_penalty(lo_r, hi_r)
            upper[rows] = np.where(reachable, top.entropy - penalty, -np.inf)
            open_ = upper[rows] > best
            if self.linear and open_.any():  # the first-order bound, where the elimination bound leaves the box open
                rows = rows[open_]
                lo_open = {k: v[rows] for k, v in lo.items()}
                first_order, shares, steps = self.linear_bound(lo_open, {k: v[rows] for k, v in hi.items()})
                upper[rows] = np.minimum(top.entropy[open_], first_order) - penalty[open_]
                informed = shares.max(1) > 0
                split[rows[informed]] = np.argmax(shares[informed], 1)
                self.narrow(rows, lo_open, hi, steps)
        return upper, self.pack(lo), self.pack(hi), split

    # --- designs --------------------------------------------------------------------------------
    def exact(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective of single designs (``-inf`` if infeasible) and their last-width index."""
        n = len(points)
        lo, hi = self.unpack(points, points)
        ok = self.tighten(lo, hi)
        for name in self.dims:
            ok &= lo[name] == hi[name]
        objective = np.full(n, -np.inf)
        widest = np.full(n, -1)
        rows = np.flatnonzero(ok)
        if rows.size:
            widest[rows] = self.widest_last({k: v[rows] for k, v in lo.items()}, lo[self.last][rows], exact=True)
        rows = np.flatnonzero(ok & (widest >= lo[self.last]))
        if rows.size:
            evaluation = self.evaluate({**{k: v[rows] for k, v in lo.items()}, self.last: widest[rows]})
            feasible = evaluation.totals["log_width"] >= min_sum_log_width(evaluation.totals["layers"], self.rho0)
            objective[rows] = np.where(feasible, evaluation.objective, -np.inf)
        return objective, widest

    def repair(self, points: np.ndarray) -> np.ndarray:
        """Raise indices until every ``a <= b`` pair holds."""
        points = points.copy()
        column = {name: d for d, name in enumerate(self.dims)}
        for a, b in self.pairs:
            if a in column and b in column:
                needed = np.searchsorted(self.grids[b], self.value(a, points[:, column[a]]), "left")
                points[:, column[b]] = np.minimum(np.maximum(points[:, column[b]], needed), len(self.grids[b]) - 1)
        return points

    def improve(self, point: np.ndarray, value: float, widest: int) -> tuple[np.ndarray, float, int]:
        """Hill-climb from a design by single-index moves while the objective rises."""
        eye = np.eye(len(self.dims), dtype=np.int64)
        moves = np.concatenate([eye, -eye])
        while True:
            neighbours = np.clip(point[None, :] + moves, 0, self.sizes - 1)
            objective, last = self.exact(neighbours)
            j = int(np.argmax(objective))
            if objective[j] <= value:
                return point, value, widest
            point, value, widest = neighbours[j], float(objective[j]), int(last[j])

    def design(self, point: np.ndarray, widest: int) -> dict[str, float]:
        values = {name: float(self.value(name, point[d])) for d, name in enumerate(self.dims)}
        values[self.last] = float(self.value(self.last, np.array(widest)))
        return values


def _slope(table: np.ndarray, rows: tuple[int, int], step: np.ndarray) -> np.ndarray:
    """``(table[end] - table[start]) / step`` where the step is positive, else 0."""
    start, end = rows
    return np.where(step > 0, (table[end] - table[start]) / np.where(step > 0, step, 1.0), 0.0)


def _linear_reach(size: np.ndarray, coefficients: np.ndarray, rooms: np.ndarray) -> np.ndarray:
    """Largest ``x_j`` each item can take under ``coefficients[c] . x <= rooms[c]``, ``0 <= x <= size``
    (the other items at their most favourable ends); ``inf`` where no limit binds it."""
    relief = np.maximum(-coefficients, 0.0) * size[None]
    slack = rooms[:, :, None] + relief.sum(-1, keepdims=True) - relief
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(coefficients > 0, slack / np.where(coefficients > 0, coefficients, 1.0), np.inf)
    return np.minimum(reach.min(0), size)


def _lagrangian_bound(gain: np.ndarray, size: np.ndarray, coefficients: np.ndarray, rooms: np.ndarray) -> np.ndarray:
    """Upper bound of ``max gain . x`` s.t. ``coefficients[c] . x <= rooms[c]``, ``0 <= x <= size``.

    Rows are independent problems. For multipliers ``lam >= 0`` the dual function
    ``D(lam) = sum_j size_j max(0, gain_j - lam . a_j) + lam . rooms`` bounds the maximum
    whatever ``lam`` is (weak duality). ``D`` is convex and piecewise linear; it is lowered by
    rounds of exact minimisation along one multiplier at a time: along ``lam_c`` each item's
    term has one kink, past which the slope rises by ``size_j |a_cj|``, so the minimum is at
    the first kink where the running slope turns non-negative.
    """
    rows = np.arange(gain.shape[0])
    lam = np.zeros((coefficients.shape[0], gain.shape[0]))
    infeasible = np.zeros(gain.shape[0], dtype=bool)
    for _ in range(DUAL_ROUNDS):
        for c in range(coefficients.shape[0]):
            others = lam.copy()
            others[c] = 0.0
            base = gain - np.einsum("cn,cnj->nj", others, coefficients)
            a = coefficients[c]
            # active just above lam_c = 0: positive reduced gain, or zero gain that rises with lam_c
            active = (base > 0) | ((base == 0) & (a < 0))
            with np.errstate(divide="ignore", invalid="ignore"):
                kinks = np.where(a != 0, base / np.where(a != 0, a, 1.0), np.inf)
            # a kink ahead: an active item with a > 0 switches off, an idle one with a < 0 on
            ahead = np.where(active, a > 0, a < 0) & (kinks > 0)
            kinks = np.where(ahead, kinks, np.inf)
            slope = rooms[c] - (size * a * active).sum(1)
            order = np.argsort(kinks, 1)
            sorted_kinks = np.take_along_axis(kinks, order, 1)
            rises = np.take_along_axis(size * np.abs(a), order, 1)
            finite = np.isfinite(sorted_kinks)
            running = slope[:, None] + np.cumsum(np.where(finite, rises, 0.0), 1)
            turn = np.argmax((running >= 0) & finite, 1)
            reached = (running[rows, turn] >= 0) & finite[rows, turn]
            # slope still negative past every kink: D falls without end, the limits contradict
            infeasible |= (slope < 0) & ~reached
            lam[c] = np.where((slope >= 0) | ~reached, 0.0, sorted_kinks[rows, turn])
    reduced = gain - np.einsum("cn,cnj->nj", lam, coefficients)
    bound = (size * np.maximum(reduced, 0.0)).sum(1) + (lam * rooms).sum(0)
    return np.where(infeasible, -np.inf, bound)


def _bound_in_parallel(
    problem: _Problem, pool: ThreadPoolExecutor, threads: int, lo: np.ndarray, hi: np.ndarray, best: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`_Problem.bound` over chunks of boxes on the pool's threads (NumPy releases the
    GIL inside its array loops, so large batches use every core)."""
    chunks = max(1, min(threads, len(lo) // MIN_CHUNK))
    if chunks == 1:
        return problem.bound(lo, hi, best)
    parts = list(
        pool.map(lambda a, b: problem.bound(a, b, best), np.array_split(lo, chunks), np.array_split(hi, chunks))
    )
    return tuple(np.concatenate(arrays) for arrays in zip(*parts))  # type: ignore[return-value]


def solve(
    space: SearchSpace,
    constraints: Sequence[Constraint],
    rho0: float,
    time_limit: float | None = None,
    progress: Callable[[SolveStats, float, float, int], None] | None = None,
) -> Solution:
    """The optimal design of ``space`` under ``constraints`` and ``rho <= rho0``.

    Raises :class:`Infeasible` when no design satisfies the constraints, :class:`SolveTimeout`
    when ``time_limit`` seconds pass first. ``progress(stats, best, bound, open_boxes)`` is called
    after every batch with the best objective found and the best open bound.
    """
    start = time.perf_counter()
    problem = _Problem(space, constraints, rho0)
    stats = SolveStats()
    lo = np.zeros((1, len(problem.dims)), dtype=np.int64)
    hi = (problem.sizes - 1)[None, :].astype(np.int64)
    upper, lo, hi, split = problem.bound(lo, hi)
    best_value, best_point, best_last = -np.inf, None, -1
    threads = min(os.cpu_count() or 1, MAX_THREADS)
    with ThreadPoolExecutor(threads) as pool:
        while True:
            keep = upper > best_value
            lo, hi, upper, split = lo[keep], hi[keep], upper[keep], split[keep]
            if not len(lo):
                break
            if time_limit is not None and time.perf_counter() - start > time_limit:
                raise SolveTimeout(
                    f"the solve did not finish within {time_limit:g} s; use coarser grids or a larger {{time_limit}}"
                )
            stats.iterations += 1
            if progress is not None:
                progress(stats, best_value, float(upper.max()), len(lo))
            order = np.argsort(-upper)
            take, rest = order[:BATCH], order[BATCH:]
            parent_lo, parent_hi, axis = lo[take], hi[take], split[take]
            leaf = (parent_hi == parent_lo).all(1)
            probes = [parent_lo[leaf]]
            parent_lo, parent_hi, axis = parent_lo[~leaf], parent_hi[~leaf], axis[~leaf]
            rows = np.arange(len(parent_lo))
            axis = np.where(parent_hi[rows, axis] > parent_lo[rows, axis], axis, np.argmax(parent_hi - parent_lo, 1))
            middle = (parent_lo[rows, axis] + parent_hi[rows, axis]) // 2
            left_hi, right_lo = parent_hi.copy(), parent_lo.copy()
            left_hi[rows, axis] = middle
            right_lo[rows, axis] = middle + 1
            child_upper, child_lo, child_hi, child_split = _bound_in_parallel(
                problem,
                pool,
                threads,
                np.concatenate([parent_lo, right_lo]),
                np.concatenate([left_hi, parent_hi]),
                best_value,
            )
            stats.boxes += len(child_lo)
            live = child_upper > best_value
            probes.append(problem.repair((child_lo[live] + child_hi[live]) // 2))
            points = np.concatenate(probes)
            if len(points):
                objective, widest = problem.exact(points)
                stats.evaluated += len(points)
                j = int(np.argmax(objective))
                if objective[j] > best_value:
                    best_point, best_value, best_last = problem.improve(points[j], float(objective[j]), int(widest[j]))
            lo = np.concatenate([lo[rest], child_lo])
            hi = np.concatenate([hi[rest], child_hi])
            upper = np.concatenate([upper[rest], child_upper])
            split = np.concatenate([split[rest], child_split])
    if best_point is None:
        raise Infeasible("no design of this space satisfies the constraints")
    point = problem.design(best_point, best_last)
    evaluation: Evaluation = space.evaluate({k: np.array([v]) for k, v in point.items()})
    return Solution(
        point=point,
        objective=float(evaluation.objective[0]),
        entropy=float(evaluation.entropy[0]),
        seconds=time.perf_counter() - start,
        stats=stats,
    )


def cheapest(space: SearchSpace, target: Constraint, constraints: Sequence[Constraint], rho0: float) -> float | None:
    """The least total of ``target``'s cost over designs of ``space`` that meet ``rho <= rho0``
    and ``constraints`` (``target``'s own limit is ignored); ``None`` if no design does.

    Branch and bound on the cost at each box's low corner (its monotone lower bound there):
    a box whose low corner is feasible is solved by it.
    """
    cost = target.name
    problem = _Problem(space, [*constraints, Constraint(cost, np.inf, target.layer_cost, target.monotone)], rho0)
    names = problem.names
    sizes = np.array([len(problem.grids[name]) for name in names])
    lo = np.zeros((1, len(names)), dtype=np.int64)
    hi = (sizes - 1)[None, :]
    best = np.inf
    while len(lo):
        lo_d = {name: lo[:, d].copy() for d, name in enumerate(names)}
        hi_d = {name: hi[:, d].copy() for d, name in enumerate(names)}
        ok = problem.tighten(lo_d, hi_d)
        low, top = problem.evaluate_low(lo_d), problem.evaluate(hi_d)
        exact_low = problem.evaluate(lo_d)
        ok &= top.totals["log_width"] >= min_sum_log_width(low.totals["layers"], rho0)
        ok &= problem.fits(low.totals)
        ok &= low.totals[cost] < best
        solved = ok & problem.fits(exact_low.totals)
        solved &= exact_low.totals["log_width"] >= min_sum_log_width(exact_low.totals["layers"], rho0)
        if solved.any():
            best = min(best, float(exact_low.totals[cost][solved].min()))
        ok &= ~solved & (low.totals[cost] < best)
        lo = np.stack([lo_d[name] for name in names], 1)[ok]
        hi = np.stack([hi_d[name] for name in names], 1)[ok]
        if not len(lo):
            break
        order = np.argsort(low.totals[cost][ok])[:BATCH]
        rest = np.setdiff1d(np.arange(len(lo)), order)
        parent_lo, parent_hi = lo[order], hi[order]
        axis = np.argmax((parent_hi - parent_lo) / np.maximum(sizes - 1, 1), 1)
        rows = np.arange(len(parent_lo))
        middle = (parent_lo[rows, axis] + parent_hi[rows, axis]) // 2
        left_hi, right_lo = parent_hi.copy(), parent_lo.copy()
        left_hi[rows, axis] = middle
        right_lo[rows, axis] = middle + 1
        lo = np.concatenate([lo[rest], parent_lo, right_lo])
        hi = np.concatenate([hi[rest], left_hi, parent_hi])
    return None if np.isinf(best) else best
