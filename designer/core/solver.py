"""Exact solver of the DeepMAD mathematical program on the design grid.

Problem
-------
Maximise ``sum_i alpha_i H_i`` minus the depth penalty (:class:`~designer.core.entropy.DepthPenalty`)
over the grid of :class:`~designer.core.space.SearchSpace` (widths, depths, and per stage the kernel
and inner width where the space lets them vary), subject to ``rho <= rho0``, every cost
constraint (FLOPs, params, predicted latency) within its limit, and the space's orderings
(:meth:`~designer.core.space.SearchSpace.pairs`: non-decreasing widths, each stage's inner-width
ratio in its range).

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
  even at its high corner, or when its ranges admit no values that satisfy the orderings.

Good designs are found first: starting designs of every scale (:meth:`_Problem.seeds`) are
climbed by local moves, then an iterated local search kicks copies of the best one and climbs
from all of them together, again and again.
When no starting design fits (a latency limit near the fastest reachable, say), the first
design that the search for the cheapest one (:func:`cheapest`) finds within the limits is
climbed instead.
Boxes are then split in halves best bound first, in vectorised batches, along the dimension
that contributes most to the first-order bound; every box's midpoint is evaluated and a new
best design is climbed from. A box is dropped only when its bound is no better than the best
design found, so when no box remains the best design is the optimum of the grid problem. When
the time limit comes first, the best design is returned with the best open bound, which caps
how far below the optimum it can be. Large batches are bounded in chunks on a few threads.

The first-order bound is weak over large boxes, so in the whole default space the best open bound
stays far above the optimum for long. A Lagrangian relaxation of the whole space, solved by
dynamic programming over the stages (:mod:`designer.core.relaxation`), bounds it within about two
percent at the ResNet-50 budget; as it costs tenths of a second per evaluation there, far more
than a box's first-order bound, it is not used on boxes: when the solve has not finished by
:data:`RELAX_FROM` of the time limit, the relaxation of the root is refined from then on beside
the search, on a core of its own (:mod:`designer.core.background`). The reported bound is the lower of
the two (the optimum is proven if the relaxation's falls to the best design's value), and the
designs the relaxation chooses are offered to the search for better designs, with shallower
copies: as its Lagrangian is linear in each depth, they are mostly deeper than the costs allow.
While the relaxation bounds tighter than the open boxes, the batches search around the incumbent
instead (:meth:`_Search.neighbourhoods`): branch and bound over the box of every index within a few
steps of it, which the first-order bound closes quickly, finds better designs that differ from the
incumbent in many indices at once, where every local move falls. Where instead the boxes' bound falls
fast enough to pass the relaxation's by the time limit (under the paper's depth penalty, whose
least value over a box's depth ranges the boxes charge better), the relaxation is stopped and the
boxes get its core (:meth:`_Search._gaining`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from designer.core.background import BackgroundRelaxation
from designer.core.entropy import min_sum_log_width, min_sum_log_width_slope
from designer.core.errors import Infeasible, SolveTimeout
from designer.core.relaxation import THREADS, Box, Relaxation
from designer.core.space import TOLERANCE, Evaluation, GridEvaluator, SearchSpace

BATCH = 2048
LAST_SEGMENTS = 8
SEGMENTS = 3
"""Segments of each branched variable's range in the first-order bound (each with its own slopes)."""
PAIR_SLACK = 1e-6
SEED_CLIMBS = 3
"""Best starting designs (:meth:`_Problem.seeds`) climbed before branching."""
DEPTH_SCALES = np.linspace(0.3, 0.95, 14)
RELAX_CLIMBS = 10
"""The relaxation's designs are mostly deeper than the costs allow (its Lagrangian is linear in
each depth, so it picks an end of the range): they are offered with every depth scaled down by each
of these factors too, and the best ten climbed from even when below the incumbent. Where a climb
ends hardly follows where it starts (``docs/relaxed_climbs.json``): from where ``mbv2``'s local
search stops at the DeepMAD-29M budget, the climbs from the root's best three end below it and the
seventh passes it. With three, a time-limited solve's design turned on which designs came first."""
PATIENCE = 75
KICKS = 32
KICK_DIMS = 6
KICK_STEPS = 6
LOCAL_SHARE = 0.6
"""Iterated local search: kicks without a gain before it stops (per branched variable, so small
spaces go to branch and bound soon), kicked copies of the incumbent climbed together in a round
(one evaluation per step for all of them, as evaluation is overhead-bound), indices moved by a
kick, how far, and the most of the time limit it may take."""
CHEAPEST_SHARE = 0.5
"""Of the time left, the most that the search for a first design that fits may take per cost."""
DUAL_ROUNDS = 3
RELAX_FROM = 0.25
"""The part of the time limit after which the Lagrangian relaxation of the root is refined beside
the search when the solve has not finished by then."""
PACE_SECONDS = 0.5
"""How long branch and bound runs before the pace of the boxes' bound is taken (:meth:`_Search._gaining`)."""
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
    """The best design found, its value, and how far it can be from the optimum."""

    point: dict[str, float]
    objective: float
    entropy: float
    seconds: float
    stats: SolveStats = field(default_factory=SolveStats)
    bound: float = np.inf
    """No design of the space has a higher objective (the objective itself when proven)."""
    proven: bool = True
    """Whether the design is proven optimal (false when the time limit stopped the proof)."""

    @property
    def gap(self) -> float:
        """``(bound - objective) / |objective|``: 0 for a proven optimum."""
        return (self.bound - self.objective) / max(abs(self.objective), 1e-12)


Progress = Callable[[SolveStats, float, float, int], None]


Index = dict[str, np.ndarray]


def _linear(constraints: Sequence[Constraint]) -> list[tuple[str, float]]:
    """The costs and limits of the first-order bound: convex costs as they are, the others by a
    convex under-estimate."""
    return [(c.name if c.convex else f"{c.name}.lower", c.limit) for c in constraints]


class _Problem:
    """Grids, branched dimensions, evaluation and bounds of one solve."""

    def __init__(self, space: SearchSpace, constraints: Sequence[Constraint], rho0: float) -> None:
        self.space, self.rho0 = space, rho0
        self.constraints = list(constraints)
        costs = [(c.name, c.layer_cost) for c in self.constraints if c.layer_cost is not None]
        lower = [c.name for c in self.constraints if not c.convex]
        self.evaluate = GridEvaluator(space, costs, lower=lower)
        self.evaluate_low = self.evaluate if all(c.monotone for c in self.constraints) else self.evaluate.enveloped()
        self.grids = self.evaluate.grids
        self.names = list(self.grids)
        self.last = f"width{space.body_stages}"
        self.dims = [name for name in self.names if name != self.last]
        self.sizes = np.array([len(self.grids[name]) for name in self.dims])
        self.pairs = space.pairs()
        depths = [f"depth{s}" for s in range(1, space.body_stages + 1)]
        self.depths = list(space.penalty.counted(np.array(depths)))
        self.linear = _linear(self.constraints)

    def with_limits(self, constraints: Sequence[Constraint]) -> _Problem:
        """This problem with the limits of ``constraints`` (the same costs, in the same order), sharing
        its priced grids."""
        limited = copy.copy(self)
        limited.constraints = list(constraints)
        limited.linear = _linear(limited.constraints)
        limited.__dict__.pop("relaxation", None)  # built from the limits when first used
        return limited

    def without_limit(self, name: str) -> _Problem:
        """This problem with the limit on ``name`` lifted, sharing its priced grids."""
        return self.with_limits([replace(c, limit=np.inf) if c.name == name else c for c in self.constraints])

    @cached_property
    def relaxation(self) -> Relaxation:
        """The Lagrangian relaxation, of the costs with a finite positive limit (built when first used)."""
        limits = [(c.name, c.limit) for c in self.constraints if 0 < c.limit < np.inf]
        return Relaxation(self.evaluate, limits, self.rho0)

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
        """Narrow ranges by the ordering pairs, in place; returns which boxes stay non-empty.

        Raising a pair's upper variable to what its lower one's low end needs, and lowering the
        lower variable to what the upper one's high end allows, never removes a design that
        satisfies the pair; two rounds settle chains and the width/inner ratio pairs.
        """
        for _ in range(2):
            for pair in self.pairs:
                needed = pair.factor * self.value(pair.lower, lo[pair.lower]) + pair.offset - TOLERANCE
                lo[pair.upper] = np.maximum(lo[pair.upper], np.searchsorted(self.grids[pair.upper], needed, "left"))
            for pair in reversed(self.pairs):
                allowed = (self.value(pair.upper, hi[pair.upper]) - pair.offset) / pair.factor + TOLERANCE
                top = np.searchsorted(self.grids[pair.lower], allowed, "right") - 1
                hi[pair.lower] = np.minimum(hi[pair.lower], top)
        ok = np.ones(len(lo[self.last]), dtype=bool)
        for name in self.names:
            ok &= lo[name] <= hi[name]
        return ok

    def value(self, name: str, index: np.ndarray) -> np.ndarray:
        """Grid values at indices (clipped: an emptied range may step one past either end)."""
        grid = self.grids[name]
        return grid[np.clip(index, 0, len(grid) - 1)]

    def relaxation_box(self, lo_box: np.ndarray, hi_box: np.ndarray) -> Box | None:
        """One box as :class:`Relaxation` takes it: the last width up to the widest that fits at the
        low corner (``None`` when the box is empty or none fits)."""
        lo, hi = self.unpack(lo_box[None], hi_box[None])
        if not self.tighten(lo, hi)[0]:
            return None
        hi[self.last] = self.widest_last(lo, lo[self.last], hi[self.last], exact=False)
        if hi[self.last][0] < lo[self.last][0]:
            return None
        return {name: (int(lo[name][0]), int(hi[name][0])) for name in self.names}

    # --- costs and the last width --------------------------------------------------------------
    def fits(self, totals: Any) -> np.ndarray:
        ok = np.ones(totals.data.shape[1], dtype=bool)
        for constraint in self.constraints:
            ok &= totals[constraint.name] <= constraint.limit
        return ok

    def widest_last(self, index: Index, floor: np.ndarray, ceiling: np.ndarray, exact: bool) -> np.ndarray:
        """Largest last-width index in ``[floor, ceiling]`` that fits; ``floor - 1`` where none does.

        Binary search on the costs' monotone lower bounds; with ``exact`` the answer is then
        checked on exact costs and stepped down where a cost is not monotone.
        """
        low, high = floor.copy(), ceiling.copy()
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
        """The least depth penalty over each box's depth ranges (:meth:`DepthPenalty.least`)."""
        lows = np.stack([self.value(n, lo[n]) for n in self.depths], -1)
        highs = np.stack([self.value(n, hi[n]) for n in self.depths], -1)
        return self.space.penalty.least(lows, highs)

    def linear_bound(self, lo: Index, hi: Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """First-order bound on the entropy of feasible designs of each box, each branched
        dimension's share of the bound, and the largest step from ``lo`` (in grid values) that
        each branched dimension can take under the linear limits.

        Entropy and the sum of log-widths ``S`` have increasing differences and are concave
        along every variable. Telescoping ``E(x) - E(lo)`` one variable at a time, each
        increment is at most the same increment with the variables already moved put at ``hi``,
        and concavity bounds that, segment by segment of the variable's range, by the slope of
        the segment's first step: ``E(x) - E(lo) <= sum_j sum_k G_jk x_jk``, ``G_jk`` taken with
        earlier variables at ``hi`` and later ones at ``lo`` (likewise for ``S``), ``x_jk`` the
        part of segment ``k`` that ``x_j`` covers. Convex costs and the layer count ``L`` have
        increasing differences, so ``C(x) - C(lo) >= sum_jk c_jk x_jk`` with ``c_jk`` the slope of
        segment ``k``'s first step with the others at ``lo``. ``rho <= rho0`` reads ``S >= g(L) =
        L log(L / rho0)`` with ``g`` convex, and its tangent at ``L(lo)`` makes it one more
        linear limit; every ordering pair of the space is one too. The last width, never
        branched on, enters first.
        """
        n = len(lo[self.last])
        rows: list[Index] = [lo]

        def add(row: Index) -> int:
            rows.append(row)
            return len(rows) - 1

        # item: (name, start, end, entropy rows (start, step), cost rows (start, step))
        items = []

        def segments(name: str, base: Index, count: int) -> None:
            span = hi[name] - lo[name]
            cuts = [lo[name] + (span * k) // count for k in range(count + 1)]
            for a, b in zip(cuts, cuts[1:]):
                step = np.minimum(a + 1, b)
                at_base = (add({**base, name: a}), add({**base, name: step}))
                at_lo = (0 if base is lo else add({**lo, name: a}), add({**lo, name: step}))
                items.append((name, a, b, at_base, at_base if base is lo else at_lo))

        segments(self.last, lo, LAST_SEGMENTS)
        base = {**lo, self.last: hi[self.last]}
        for name in self.dims:
            if not (hi[name] > lo[name]).any():
                continue
            segments(name, dict(base), min(SEGMENTS, int((hi[name] - lo[name]).max())))
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
        tangent = min_sum_log_width_slope(layers[0], self.rho0)
        gains, sizes = [], []
        limits: list[list[np.ndarray]] = [[] for _ in range(len(self.linear) + 1 + len(self.pairs))]
        for name, a, b, at_base, at_lo in items:
            start = self.value(name, a)
            first = self.value(name, np.minimum(a + 1, b)) - start
            gains.append(_slope(entropy, at_base, first))
            for k, cost in enumerate(costs):
                limits[k].append(_slope(cost, at_lo, first))
            limits[len(costs)].append(tangent * _slope(layers, at_lo, first) - _slope(log_width, at_base, first))
            for k, pair in enumerate(self.pairs, start=len(costs) + 1):
                coefficient = pair.factor if name == pair.lower else (-1.0 if name == pair.upper else 0.0)
                limits[k].append(np.full(n, coefficient))
            sizes.append(self.value(name, b) - start)
        rooms = [limit - cost[0] for (_, limit), cost in zip(self.linear, costs)]
        rooms.append(log_width[0] - min_sum_log_width(layers[0], self.rho0))
        for pair in self.pairs:
            slack = self.value(pair.upper, lo[pair.upper]) - pair.factor * self.value(pair.lower, lo[pair.lower])
            rooms.append(slack - pair.offset + PAIR_SLACK)
        gain, size = np.stack(gains, 1), np.stack(sizes, 1)
        coefficients = np.stack([np.stack(limit, 1) for limit in limits])
        bound = entropy[0] + _lagrangian_bound(gain, size, coefficients, np.stack(rooms))
        reach = _linear_reach(size, coefficients, np.stack(rooms))
        shares = np.zeros((n, len(self.dims)))
        steps = np.zeros((n, len(self.dims)))
        for j, (name, *_) in enumerate(items):
            if name != self.last:
                shares[:, self.dims.index(name)] += gain[:, j] * size[:, j]
                steps[:, self.dims.index(name)] += reach[:, j]
        for d, name in enumerate(self.dims):
            if not (hi[name] > lo[name]).any():
                steps[:, d] = np.inf
        return bound, shares, steps

    def narrow(self, rows: np.ndarray, lo_r: Index, hi: Index, steps: np.ndarray) -> None:
        """Lower the tops of boxes ``rows`` to the largest step from ``lo`` the linear limits allow."""
        for d, name in enumerate(self.dims):
            reach = self.value(name, lo_r[name]) + steps[:, d] * (1 + 1e-9) + 1e-9
            top = np.searchsorted(self.grids[name], reach, "right") - 1
            hi[name][rows] = np.minimum(hi[name][rows], np.maximum(top, lo_r[name]))

    def root(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`bound` of the box of every design (none, or it narrowed)."""
        return self.bound(np.zeros((1, len(self.dims)), dtype=np.int64), (self.sizes - 1)[None, :].astype(np.int64))

    def root_box(self) -> Box | None:
        """The root as :class:`Relaxation` takes it (:meth:`relaxation_box` of :meth:`root`'s narrowed
        box; ``None`` when it holds no design)."""
        _, lo, hi, _ = self.root()
        return self.relaxation_box(lo[0], hi[0]) if len(lo) else None

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
            index = {k: v[rows] for k, v in lo.items()}
            widest[rows] = self.widest_last(index, lo[self.last][rows], hi[self.last][rows], exact=False)
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
            index = {k: v[rows] for k, v in lo.items()}
            widest[rows] = self.widest_last(index, lo[self.last][rows], hi[self.last][rows], exact=True)
        rows = np.flatnonzero(ok & (widest >= lo[self.last]))
        if rows.size:
            evaluation = self.evaluate({**{k: v[rows] for k, v in lo.items()}, self.last: widest[rows]})
            feasible = evaluation.totals["log_width"] >= min_sum_log_width(evaluation.totals["layers"], self.rho0)
            objective[rows] = np.where(feasible, evaluation.objective, -np.inf)
        return objective, widest

    def repair(self, points: np.ndarray) -> np.ndarray:
        """Raise indices until every pair between branched variables holds (as far as the grids reach)."""
        points = points.copy()
        column = {name: d for d, name in enumerate(self.dims)}
        for pair in self.pairs:
            if pair.lower in column and pair.upper in column:
                a, b = column[pair.lower], column[pair.upper]
                value = pair.factor * self.value(pair.lower, points[:, a]) + pair.offset - TOLERANCE
                needed = np.searchsorted(self.grids[pair.upper], value, "left")
                points[:, b] = np.minimum(np.maximum(points[:, b], needed), len(self.grids[pair.upper]) - 1)
        return points

    def moves(self) -> np.ndarray:
        """Local-search moves: each index by 1 to 16 steps either way, and every pair by one step."""
        n = len(self.dims)
        eye = np.eye(n, dtype=np.int64)
        single = [eye * sign * step for step in (1, 2, 4, 8, 16) for sign in (1, -1)]
        a, b = np.triu_indices(n, 1)
        pairs = []
        for sign_a, sign_b in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            move = np.zeros((len(a), n), dtype=np.int64)
            move[np.arange(len(a)), a], move[np.arange(len(a)), b] = sign_a, sign_b
            pairs.append(move)
        return np.concatenate([*single, *pairs])

    def improve(
        self, points: np.ndarray, values: np.ndarray, widest: np.ndarray, until: float = np.inf
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Climb from each design to the best of its neighbours (:meth:`moves`) while the objective
        rises, or until a step like the last would end past ``until`` (``time.perf_counter()``); all
        climbs step together, so each step evaluates every climb's neighbours at once."""
        moves = self.moves()
        points, values, widest = points.copy(), values.copy(), widest.copy()
        climbing = np.arange(len(points))
        step = 0.0
        while climbing.size and time.perf_counter() + step < until:
            began = time.perf_counter()
            neighbours = np.clip(points[climbing][:, None, :] + moves[None], 0, self.sizes - 1)
            objective, last = (
                a.reshape(len(climbing), len(moves)) for a in self.exact(neighbours.reshape(-1, len(self.dims)))
            )
            rows, best = np.arange(len(climbing)), objective.argmax(1)
            rises = objective[rows, best] > values[climbing]
            climbing, rows, best = climbing[rises], rows[rises], best[rises]
            points[climbing] = neighbours[rows, best]
            values[climbing], widest[climbing] = objective[rows, best], last[rows, best]
            step = time.perf_counter() - began
        return points, values, widest

    def seeds(self) -> np.ndarray:
        """Starting designs for the search, one per kernel and scale: one block per stage, widths
        doubling at every down-sampling step up to the last stage's (every other grid width), and
        the narrowest inner widths the ratio range allows."""
        last = self.grids[self.last]
        strides = np.array(self.space.strides)
        kernels = range(len(self.grids["kernel1"])) if "kernel1" in self.grids else [0]
        points = []
        for kernel in kernels:
            for top in range(0, len(last), 2):
                widths = {self.last: last[top]}
                for stage in range(self.space.body_stages):
                    name = "stem" if stage == 0 else f"width{stage}"
                    target = last[top] / 2.0 ** int((strides[stage:] == 2).sum())
                    widths[name] = self.value(name, np.searchsorted(self.grids[name], target))
                point = np.zeros(len(self.dims), dtype=np.int64)
                for d, name in enumerate(self.dims):
                    if name in widths:
                        point[d] = np.searchsorted(self.grids[name], widths[name])
                    elif name.startswith("kernel"):
                        point[d] = kernel
                    elif name.startswith("inner"):
                        least = max(
                            (p.factor * widths[p.lower] + p.offset for p in self.pairs if p.upper == name),
                            default=0.0,
                        )
                        point[d] = np.searchsorted(self.grids[name], least - TOLERANCE)
                points.append(np.minimum(point, self.sizes - 1))
        return self.repair(np.array(points))

    def shallower(self, points: np.ndarray) -> np.ndarray:
        """The designs with every depth scaled down by each of :data:`DEPTH_SCALES` (rounded down on
        its grid, at least its least value)."""
        scaled = []
        for scale in DEPTH_SCALES:
            copy = points.copy()
            for d, name in enumerate(self.dims):
                if name.startswith("depth"):
                    grid = self.grids[name]
                    copy[:, d] = np.searchsorted(grid, np.maximum(grid[points[:, d]] * scale, grid[0]), "right") - 1
            scaled.append(copy)
        return np.concatenate(scaled)

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


class _Search:
    """The incumbent (best design found), the open boxes and the clock of one solve."""

    def __init__(self, problem: _Problem, time_limit: float | None, progress: Progress | None, start: float) -> None:
        self.problem, self.time_limit, self.progress = problem, time_limit, progress
        self.start = start
        self.box_seconds = 0.0
        """How long branch and bound takes per box of a batch (the last batch's, or most of the
        estimate before it when that is more): it stops when the next batch would end past the
        time limit. The relaxation's steps keep to the time limit by their own estimate
        (:attr:`Relaxation.dp_seconds`)."""
        self.stats = SolveStats()
        self.best_value, self.best_point, self.best_last = -np.inf, np.zeros(0, dtype=np.int64), -1
        self.relax_at = np.inf if time_limit is None else start + RELAX_FROM * time_limit
        self.relaxation: BackgroundRelaxation | None = None
        """The root's relaxation, refined beside the search from :attr:`relax_at` (:meth:`take_relaxed`)."""
        self.no_relaxation = False
        """Whether the root's relaxation box holds no design."""

    @property
    def cap(self) -> float:
        """The relaxation's bound so far (``-inf`` once it closed every piece)."""
        if self.no_relaxation:
            return -np.inf
        return np.inf if self.relaxation is None else self.relaxation.cap

    def out_of_time(self, ahead: float = 0.0) -> bool:
        """Whether work of ``ahead`` seconds from now would end past the time limit."""
        return self.time_limit is not None and time.perf_counter() + ahead - self.start > self.time_limit

    def adopt(self, point: np.ndarray) -> bool:
        """Make one design (indices of the branched variables) the incumbent, whatever its value;
        false, leaving the incumbent as it was, when it is infeasible."""
        (value,), (last,) = self.problem.exact(point[None])
        if not np.isfinite(value):
            return False
        self.best_point, self.best_value, self.best_last = point, float(value), int(last)
        return True

    def offer(self, points: np.ndarray, climb: int = 1, always: bool = False) -> None:
        """Evaluate designs; climb from the best ``climb`` of them (only from those that beat the
        incumbent, unless ``always``); keep the best design found."""
        if not len(points):
            return
        objective, widest = self.problem.exact(points)
        self.stats.evaluated += len(points)
        chosen = np.argsort(-objective)[:climb]
        chosen = chosen[(objective[chosen] > -np.inf) & (always | (objective[chosen] > self.best_value))]
        if not chosen.size:
            return
        until = np.inf if self.time_limit is None else self.start + self.time_limit
        climbed, values, last = self.problem.improve(points[chosen], objective[chosen], widest[chosen], until)
        j = int(np.argmax(values))
        if values[j] > self.best_value:
            self.best_point, self.best_value, self.best_last = climbed[j], float(values[j]), int(last[j])

    def offer_cheapest(self) -> None:
        """When no starting design fits (a tight latency limit, say), offer the first design
        found by minimising each cost in turn within its limit, in a share of the time left."""
        problem = self.problem
        dims = [problem.names.index(name) for name in problem.dims]
        for constraint in problem.constraints:
            deadline = None
            if self.time_limit is not None:
                left = self.start + self.time_limit - time.perf_counter()
                deadline = time.perf_counter() + CHEAPEST_SHARE * max(left, 0.0)
            found = _least(problem, constraint.name, deadline, first=True)[1]
            if found is not None:
                self.offer(found[dims][None], always=True)
                return

    def perturb(self, rng: np.random.Generator) -> None:
        """Iterated local search: kick the incumbent :data:`KICKS` times (a few indices moved at
        random in each copy), climb from every copy together, keep the best if it beats the
        incumbent; stop after :data:`PATIENCE` kicks per branched variable without a gain."""
        sizes, idle = self.problem.sizes, 0
        share = None if self.time_limit is None else self.start + LOCAL_SHARE * self.time_limit
        patience = PATIENCE * len(sizes)
        moved = min(KICK_DIMS, len(sizes))
        while np.isfinite(self.best_value) and idle < patience and (share is None or time.perf_counter() < share):
            points = np.repeat(self.best_point[None], KICKS, 0)
            for point in points:
                dims = rng.choice(len(point), size=moved, replace=False)
                point[dims] += rng.integers(-KICK_STEPS, KICK_STEPS + 1, size=moved)
            before = self.best_value
            self.offer(np.clip(points, 0, sizes - 1), climb=KICKS, always=True)
            self.take_relaxed()
            idle = 0 if self.best_value > before else idle + KICKS

    def take_relaxed(self) -> None:
        """Once :attr:`relax_at` has passed, refine the root's Lagrangian relaxation beside the search
        (:class:`~designer.core.background.BackgroundRelaxation`, from multipliers fitted to the
        incumbent, until the time limit); tell it the incumbent's value and offer the designs its
        DPs chose since the last call, with shallower copies (:meth:`_Problem.shallower`): as its
        Lagrangian is linear in each depth, they are mostly deeper than the costs allow."""
        problem = self.problem
        if self.relaxation is None and not self.no_relaxation:
            if time.perf_counter() < self.relax_at or not np.isfinite(self.best_value):
                return
            box = problem.root_box()
            if box is None:
                self.no_relaxation = True
                return
            incumbent = {name: int(self.best_point[d]) for d, name in enumerate(problem.dims)}
            start = problem.relaxation.start({**incumbent, problem.last: self.best_last})
            deadline = np.inf if self.time_limit is None else self.start + self.time_limit
            self.relaxation = BackgroundRelaxation(problem.relaxation, box, start, self.best_value, deadline)
        if self.relaxation is None:
            return
        self.relaxation.share(self.best_value)
        chosen = self.relaxation.poll()
        if chosen:
            points = np.array([[point[name] for name in problem.dims] for point in chosen])
            self.offer(np.concatenate([points, problem.shallower(points)]), climb=RELAX_CLIMBS, always=True)

    def branch_and_bound(self, pool: ThreadPoolExecutor, threads: int) -> float:
        """Best-first branch and bound until no open box can beat the incumbent (returns its
        value: the optimum is proven) or time runs out (returns the best open bound), beside the
        root's Lagrangian relaxation once it is due (:meth:`take_relaxed`), whose bound holds for
        every design: once it is below the best open box's, or no batch of boxes fits in the time
        left while it runs, the batches search around the incumbent instead (:meth:`neighbourhoods`)."""
        boxes = self._branch(pool, threads)
        if self.relaxation is not None:  # its last step, unless the optimum is proven (it keeps to the limit)
            self.relaxation.finish(wait=boxes > self.best_value)
        return max(min(boxes, self.cap), self.best_value)  # the cap is -inf once it closed every piece

    def _branch(self, pool: ThreadPoolExecutor, threads: int) -> float:
        """The batches of :meth:`branch_and_bound`; the incumbent's value once every box is closed,
        else the best open box's bound."""
        upper, lo, hi, split = self.problem.root()
        local: Generator[int, None, bool] | None = None
        bounds = [(time.perf_counter(), float(upper.max(initial=-np.inf)))]  # after each batch of boxes
        while True:
            self.take_relaxed()
            keep = upper > self.best_value
            lo, hi, upper, split = lo[keep], hi[keep], upper[keep], split[keep]
            if not len(lo) or self.cap <= self.best_value:
                return self.best_value
            # in the whole space the boxes' bounds mostly stay far above the relaxation's; where they
            # fall below it at their pace by the time limit, the boxes get its core
            gaining = self._gaining(bounds)
            relaxation = self.relaxation
            running = relaxation is not None and not relaxation.done
            if relaxation is not None and running and gaining and np.isfinite(self.cap):
                relaxation.finish(wait=False)
                running = False
            batch = min(BATCH, len(lo))
            no_time = self.out_of_time(self.box_seconds * batch)
            searching_around = (self.cap < float(upper.max()) and gaining is False) or (no_time and running)
            if not searching_around and no_time:
                return float(upper.max())
            began = time.perf_counter()
            self.stats.iterations += 1
            if self.progress is not None:
                self.progress(self.stats, self.best_value, min(float(upper.max()), self.cap), len(lo))
            if searching_around:
                local = self.neighbourhoods(pool, threads) if local is None else local
                try:
                    next(local)
                except StopIteration as searched:  # out of time, or every design searched
                    return self.best_value if searched.value else float(upper.max())
            else:
                lo, hi, upper, split = self.split(pool, threads, lo, hi, upper, split)
                self.box_seconds = max(0.8 * self.box_seconds, (time.perf_counter() - began) / batch)
                bounds.append((time.perf_counter(), float(upper.max(initial=-np.inf))))

    def _gaining(self, bounds: list[tuple[float, float]]) -> bool | None:
        """Whether the boxes' bound would fall below the relaxation's by the time limit, were its
        excess over the incumbent to keep shrinking at half its rate since the relaxation's root bound
        came (``bounds``: the time and bound at the start and after each batch). The excess shrinks by
        a fraction per second at best, as the boxes multiply: the bound's fall in the batches' first
        seconds, kept up in a straight line, would overrate them, and stopped the relaxation after its
        root at limits of 30 s and more. ``None`` until the batches have run :data:`PACE_SECONDS` of
        that time. Splitting boxes then pays more than the relaxation, as under the paper's depth
        penalty, where the boxes' bounds charge the penalty of their depth ranges better than it does."""
        rooted = np.inf if self.relaxation is None else self.relaxation.rooted
        then, high = max((entry for entry in bounds if entry[0] <= rooted), default=bounds[0], key=lambda e: e[0])
        now, low = bounds[-1]
        if now - then < PACE_SECONDS:
            return None
        if low <= self.best_value:
            return True
        if high <= low:
            return False
        left = np.inf if self.time_limit is None else self.start + self.time_limit - time.perf_counter()
        rate = np.log((high - self.best_value) / (low - self.best_value)) / (now - then)
        return bool(self.best_value + (low - self.best_value) * np.exp(-rate * left / 2) < self.cap)

    def split(
        self,
        pool: ThreadPoolExecutor,
        threads: int,
        lo: np.ndarray,
        hi: np.ndarray,
        upper: np.ndarray,
        split: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One batch of branch and bound: the :data:`BATCH` open boxes with the highest bounds cut in
        halves (along their split dimensions) and bounded, the halves' midpoints offered as designs;
        returns the open boxes after it."""
        problem = self.problem
        order = np.argsort(-upper)
        take, rest = order[:BATCH], order[BATCH:]
        parent_lo, parent_hi, axis, parent_upper = lo[take], hi[take], split[take], upper[take]
        leaf = (parent_hi == parent_lo).all(1)
        probes = [parent_lo[leaf]]
        parent_lo, parent_hi, axis, parent_upper = parent_lo[~leaf], parent_hi[~leaf], axis[~leaf], parent_upper[~leaf]
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
            self.best_value,
        )
        # a child lies inside its parent, so the parent's bound holds for it too
        child_upper = np.minimum(child_upper, np.concatenate([parent_upper, parent_upper]))
        self.stats.boxes += len(child_lo)
        live = child_upper > self.best_value
        probes.append(problem.repair((child_lo[live] + child_hi[live]) // 2))
        self.offer(np.concatenate(probes))
        return (
            np.concatenate([lo[rest], child_lo]),
            np.concatenate([hi[rest], child_hi]),
            np.concatenate([upper[rest], child_upper]),
            np.concatenate([split[rest], child_split]),
        )

    def neighbourhoods(self, pool: ThreadPoolExecutor, threads: int) -> Generator[int, None, bool]:
        """Exact search around the incumbent, one batch per step (yielding the room): :meth:`search_box`
        over the box of every index within ``room`` steps of it (the first-order bound is tight on
        small boxes), from one step; once a box is searched without a better design, the room grows
        by one, else the next box is centred on the new incumbent. Finds the better designs that differ from the
        incumbent in many indices at once, which no local move reaches. Returns false when out of
        time, true once a box that holds every design is searched (the incumbent is then optimal)."""
        sizes, room = self.problem.sizes, 1
        while True:
            before = self.best_value
            lo, hi = np.maximum(self.best_point - room, 0), np.minimum(self.best_point + room, sizes - 1)
            box = self.search_box(pool, threads, lo, hi)
            while True:
                try:
                    next(box)
                except StopIteration as searched:
                    if not searched.value:
                        return False
                    break
                yield room
            if self.best_value <= before:
                if room >= sizes.max():
                    return True
                room += 1

    def search_box(
        self, pool: ThreadPoolExecutor, threads: int, lo: np.ndarray, hi: np.ndarray
    ) -> Generator[None, None, bool]:
        """Branch and bound over one box of indices, one batch per step. Returns true once no design
        of the box can beat the incumbent, false before a batch that would end past the time limit
        (as the last one took)."""
        upper, lo, hi, split = self.problem.bound(lo[None], hi[None], self.best_value)
        seconds = 0.0
        while True:
            keep = upper > self.best_value
            lo, hi, upper, split = lo[keep], hi[keep], upper[keep], split[keep]
            if not len(lo):
                return True
            if self.out_of_time(seconds):
                return False
            began = time.perf_counter()
            lo, hi, upper, split = self.split(pool, threads, lo, hi, upper, split)
            seconds = time.perf_counter() - began
            yield


def _priced(space: SearchSpace, constraints: tuple[Constraint, ...], rho0: float) -> _Problem:
    """The problem with its grid priced, the grid kept for the next call with the same space and
    costs whatever their limits (the search for the best reachable budgets after a solve that found
    no design, or the next round of ``--verify`` with another throughput target, would price it
    again)."""
    costs = tuple(replace(c, limit=np.inf) for c in constraints)
    return _priced_grid(space, costs, rho0).with_limits(constraints)


@lru_cache(maxsize=1)
def _priced_grid(space: SearchSpace, costs: tuple[Constraint, ...], rho0: float) -> _Problem:
    return _Problem(space, costs, rho0)


def solve(
    space: SearchSpace,
    constraints: Sequence[Constraint],
    rho0: float,
    time_limit: float | None = None,
    progress: Progress | None = None,
    seed: int = 0,
) -> Solution:
    """The optimal design of ``space`` under ``constraints`` and ``rho <= rho0``.

    Good designs are found first (:meth:`_Problem.seeds` climbed, then an iterated local search
    seeded by ``seed``), then branch and bound proves the best one optimal. When ``time_limit``
    seconds pass first, the best design found is returned with the best bound still open
    (``Solution.proven`` false, ``Solution.gap`` the most it can be below the optimum).
    ``progress(stats, best, bound, open_boxes)`` is called after every batch of boxes.

    Raises :class:`Infeasible` when no design satisfies the constraints, :class:`SolveTimeout`
    when time runs out before any design is found.
    """
    start = time.perf_counter()  # the limit counts pricing the grid's tables too
    problem = _priced(space, tuple(constraints), rho0)
    search = _Search(problem, time_limit, progress, start)
    try:
        search.offer(problem.seeds(), climb=SEED_CLIMBS, always=True)
        if not np.isfinite(search.best_value):
            search.offer_cheapest()
        search.perturb(np.random.default_rng(seed))
        with ThreadPoolExecutor(THREADS) as pool:
            bound = search.branch_and_bound(pool, THREADS)
    finally:  # when interrupted (it ends by itself otherwise)
        if search.relaxation is not None:
            search.relaxation.finish(wait=False)
    if not np.isfinite(search.best_value):
        if search.out_of_time():
            raise SolveTimeout(
                f"no design found within {time_limit:g} s; give a larger {{time_limit}} or a smaller space"
            )
        raise Infeasible("no design of this space satisfies the constraints")
    point = problem.design(search.best_point, search.best_last)
    evaluation: Evaluation = space.evaluate({k: np.array([v]) for k, v in point.items()})
    objective = float(evaluation.objective[0])
    return Solution(
        point=point,
        objective=objective,
        entropy=float(evaluation.entropy[0]),
        seconds=time.perf_counter() - search.start,
        stats=search.stats,
        bound=max(bound, objective),
        proven=bound <= search.best_value,
    )


@dataclass(frozen=True)
class Reach:
    """The least total of one cost over a space: ``value`` of the cheapest design found
    (``None`` when none was), ``bound`` below which no design lies (``value`` once proven)."""

    value: float | None
    bound: float

    @property
    def proven(self) -> bool:
        return self.bound >= (np.inf if self.value is None else self.value)


def cheapest(
    space: SearchSpace,
    target: Constraint,
    constraints: Sequence[Constraint],
    rho0: float,
    time_limit: float | None = None,
) -> Reach:
    """The least total of ``target``'s cost over designs of ``space`` that meet ``rho <= rho0``
    and ``constraints`` (``target``'s own limit is ignored); ``Reach(None, inf)`` if no design does.
    When ``time_limit`` seconds pass first, the cheapest design found comes with a bound."""
    problem = _Problem(space, [*constraints, replace(target, limit=np.inf)], rho0)
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    return _least(problem, target.name, deadline)[0]


def cheapest_each(
    space: SearchSpace, constraints: Sequence[Constraint], rho0: float, time_limit: float | None = None
) -> Iterator[tuple[Constraint, Reach]]:
    """Each constraint in turn with :func:`cheapest` of its cost under the others, the grid priced
    once for all (not again after a :func:`solve` of the same problem); ``time_limit`` seconds,
    pricing included, are shared, each search getting an equal part of what is left."""
    end = None if time_limit is None else time.perf_counter() + time_limit
    problem = _priced(space, tuple(constraints), rho0)
    for index, target in enumerate(constraints):
        now = time.perf_counter()
        deadline = None if end is None else now + max(end - now, 0.0) / (len(constraints) - index)
        yield target, _least(problem.without_limit(target.name), target.name, deadline)[0]


def _least(
    problem: _Problem, cost: str, deadline: float | None, first: bool = False
) -> tuple[Reach, np.ndarray | None]:
    """The least total of ``cost`` over the designs that meet all of ``problem``'s constraints,
    and the cheapest design found (indices over ``problem.names``); with ``first``, stop at the
    first design found.

    Best-first branch and bound on the cost at each box's low corner (its monotone lower bound
    there): a box whose low corner is feasible is solved by it. When one more batch like the
    last would end past ``deadline``, the least low-corner cost still open is the bound.
    """
    names = problem.names
    sizes = np.array([len(problem.grids[name]) for name in names])
    lo = np.zeros((1, len(names)), dtype=np.int64)
    hi = (sizes - 1)[None, :]
    best, found = np.inf, None
    while len(lo):
        began = time.perf_counter()
        lo_d = {name: lo[:, d].copy() for d, name in enumerate(names)}
        hi_d = {name: hi[:, d].copy() for d, name in enumerate(names)}
        ok = problem.tighten(lo_d, hi_d)
        low, top = problem.evaluate_low(lo_d), problem.evaluate(hi_d)
        exact_low = problem.evaluate(lo_d)
        ok &= top.totals["log_width"] >= min_sum_log_width(low.totals["layers"], problem.rho0)
        ok &= problem.fits(low.totals)
        ok &= low.totals[cost] < best
        solved = ok & problem.fits(exact_low.totals)
        solved &= exact_low.totals["log_width"] >= min_sum_log_width(exact_low.totals["layers"], problem.rho0)
        if solved.any():
            rows = np.flatnonzero(solved)
            row = rows[np.argmin(exact_low.totals[cost][rows])]
            if exact_low.totals[cost][row] < best:
                best = float(exact_low.totals[cost][row])
                found = np.array([lo_d[name][row] for name in names])
        ok &= ~solved & (low.totals[cost] < best)
        lo = np.stack([lo_d[name] for name in names], 1)[ok]
        hi = np.stack([hi_d[name] for name in names], 1)[ok]
        if not len(lo):
            break
        now = time.perf_counter()
        if (first and found is not None) or (deadline is not None and now + (now - began) > deadline):
            return Reach(None if found is None else best, min(best, float(low.totals[cost][ok].min()))), found
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
    return Reach(None if found is None else best, best), found
