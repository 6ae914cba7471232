"""Lagrangian upper bound of the design MP over a box of grid indices, by dynamic programming.

Relaxation
----------
The multi-scale entropy is ``sum_j A_j(C_j) S_j``: entropy stage ``j`` (:meth:`SearchSpace.entropy_ends`)
weighs ``S_j``, the sum of log-widths of every main layer up to its end, by ``A_j = alpha_j log(r_j^2
C_j)``, ``C_j`` the width there. The product is split: whenever ``low_j <= S_j <= high_j``, for any
``nu_j``,

    ``A_j(C_j) S_j <= nu_j S_j + phi_j(C_j)``,  ``phi_j(C) = (A_j(C) - nu_j) * (high_j if A_j(C) > nu_j else low_j)``,

a weight ``nu_j`` on the log-widths of the parts of the network (stem, a stage's first block, its
further blocks, head) that stage ``j`` counts, and a term of ``C_j`` alone. The bounds (a
:class:`Spread`) hold for the designs of the box that could beat the caller's target: ``high`` of
the last stage is a Lagrangian bound of the total log-width for each last width (a
:class:`Ceiling`, per value of that width), of the others the overall one; ``low`` is the box's low
corner's (log-widths never fall as an index grows), and for the last stage, what an entropy above
the target needs with every other stage's ``A`` at its largest. A width whose ``low`` exceeds its
``high`` leaves no design there. With ``nu_j`` at ``A_j`` of the box's widest ``C_j`` and ``low = 0``
this is the plain bound that weighs every stage at its widest width; the split is tight at
designs whose ``C_j`` gives ``A_j = nu_j``.

The depth penalty only subtracts. The penalised stages' depth ranges are cut in a few buckets each,
and each combination ``B`` of buckets is charged the penalty's least value over it (a bound,
:meth:`~designer.core.entropy.DepthPenalty.least`), less the box's least, which the caller
subtracts; a design whose depths are spread far apart then pays for it. Within a combination the
DP picks depths at its buckets' ends (the Lagrangian is linear in each), such as (24, 32, 24) in
the buckets of (17-24, 25-32, 17-24), which the least penalty (at (24, 25, 24)) undercharges. So
each bucket also has a slope ``u`` (a multiplier of either sign): as ``P(d) >= min_B (P - u . d) +
u . d`` for the depths ``d`` in ``B``, a combination is charged ``min_B (P - u . d)`` (over its depth
vectors, enumerated) and a design ``u . d`` more, through its stages' tables; with ``u = 0`` that
is the least penalty. A stage too many to cut in buckets (``mbv2`` penalises four) is one bucket
with one slope: without it the penalty charged nothing at ``mbv2``'s root, whose DP then chose
one very deep stage beside stages of a single block. Costs are
dualised with multipliers ``lam >= 0``; ``rho <= rho0``, i.e. ``S >= g(L)`` with ``g`` convex
(:func:`~designer.core.entropy.min_sum_log_width`), implies ``S >= g(L*) + g'(L*) (L - L*) + delta``
for any ``L*``, ``delta`` the least that ``g`` exceeds its tangent by over the layer counts ``L`` that
a design's combination of depth buckets allows (zero when they include ``L*``; a design too deep
or too shallow for ``L*`` then pays for it), which is dualised with ``mu >= 0``. For every choice
of multipliers,

    ``max_x sum_p W_p S_p(x) + sum_j phi_j(C_j(x)) + mu (S(x) - g(L*) - g'(L*) (L(x) - L*) - delta(x)) + lam . (B - C(x))``

(``W_p`` the sum of the ``nu_j`` that count part ``p``) over the box, orderings kept, bounds the
entropy of every design in it that could beat the target (weak duality), whatever the costs are:
measured latency needs neither monotonicity nor convexity.

Dynamic programming
-------------------
Every total is a sum of tables, each reading a few variables (:class:`GridEvaluator`), so the
Lagrangian separates into a chain over the stages' input and output widths: a stage's further
blocks add ``(depth - 1)`` times a term of its width, inner width and kernel, maximised at an
end of the depth range; the kernel and then the inner width are eliminated by maximisation
(orderings enter as ``-inf`` factors; the large tables are summed in single precision and the
result raised by a bound on the rounding), leaving a table of the previous and the stage's
width, to which the ``phi`` of that width is added (a penalised stage has one such table per depth
bucket); a max-plus pass along the chain, per combination of the penalised stages' buckets so far,
gives the maximum for each last width (the max-marginal a :class:`Ceiling` keeps; each combination
less its penalty and ``mu delta``) and,
backtracked, the design attaining it. The buckets make a DP about three times as slow at the
ResNet-50 budget and its bound tighter for the time spent. The stage tables, independent of each
other, are built on a few threads (NumPy releases the GIL in its array loops).

Dual
----
The bound is minimised over the multipliers ``lam``, ``mu``, ``nu`` and ``u`` (the tangent point kept) by
a proximal bundle method in scale-free coordinates (each multiplier times its constraint's size,
so that every coordinate is in units of the objective and every subgradient a fraction): each DP
gives a value and a subgradient (the slacks of its design; for ``nu_j``, ``S_j`` less the bound its
``phi_j`` took; for the slopes of the design's buckets, the depths where its combination's charge is
least less its own), the cutting-plane model of the recent ones plus a proximal term picks the next
multipliers, and the proximal weight doubles after a step that lowers the bound and halves after
one that does not. Every iterate is a valid bound; the least is kept. It starts from multipliers
that make the Lagrangian stationary at a known design (:meth:`Relaxation.start`).

Refinement
----------
The split is loose for designs whose ``C_j`` is far from the one ``nu_j`` fits, most of all for the
last stage (its weight is 8 by default), and the buckets for designs whose depths are spread within
them: cutting the box in pieces, each bounded on its own with its own ``nu``, spread and least
penalty, tightens the bound (:meth:`Relaxation.refine`). A piece is cut along a penalised depth
where the design its DP chose draws more from the penalty's slack than from the split's, else
along the width that raises the widest ``A_j`` most, else (every ``A_j`` fixed: the gap left is the
costs' duality gap over the other variables) along whichever variable the designs its DPs chose
differ most in; best first, for as long as the caller asks (there is no cap on the pieces, so a
longer time limit keeps lowering the bound). A piece of one design is bounded by its own objective,
so the refinement is a complete branch and bound: given the time, it closes every piece that
cannot beat the target, whatever the space.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from designer.core.entropy import min_sum_log_width, min_sum_log_width_slope, stage_entropy
from designer.core.space import GridEvaluator, Table

Box = dict[str, tuple[int, int]]
"""Inclusive index range of every variable."""
Bucket = tuple[int, int, int]
"""A stage and an inclusive index range of its depth."""
Factor = tuple[tuple[str, ...], np.ndarray]
"""A term of the Lagrangian: values over the box's ranges of some variables (in that order)."""
CHUNK = 1 << 20
"""Entries of a dense table built at once when a variable is eliminated."""
ITERATIONS = 15
SLOPED_ITERATIONS = 25
BUNDLE = 20
QP_STEPS = 50
"""DP evaluations of the dual (of the whole box in :meth:`Relaxation.refine`; where its depth
buckets have penalty slopes, more multipliers to fit, more), the most cutting planes kept, and the
gradient steps that solve the bundle's quadratic programme."""
PIECE_ITERATIONS = 8
"""DP evaluations of each piece that :meth:`Relaxation.refine` bounds."""
CEILING_ITERATIONS = 8
"""DP evaluations of the dual that bounds the total log-width (:meth:`Relaxation.ceiling`)."""
BUCKETS = 64
MIN_BUCKETS = 3
"""The most combinations of depth buckets of the penalised stages that the DP tells apart, and the
fewest buckets per stage worth their cost (the ResNet layouts' three penalised stages get four
each; two each, as four penalised stages would get, doubled an ``mbv2`` DP's time for no tighter
bound)."""
SAME = 1e-12
"""Relative difference below which a design's objective is the target's (summation order aside)."""
THREADS = min(os.cpu_count() or 1, 4)
"""Threads that build a DP's stage tables, and that bound the solver's large batches of boxes."""
SLOPED_DEPTHS = 1 << 20
"""The most vectors of penalised depths in a box for which its buckets get penalty slopes
(:attr:`Multipliers.penalty_slopes`; the ResNet layouts' root has 32^3, ``mbv2``'s 32^4), and a
quarter of the most that :meth:`Relaxation._enumerated` keeps."""


@dataclass(frozen=True)
class Multipliers:
    """``lam`` per unit of each cost, ``mu`` per unit of log-width, the tangent point ``L*``, and
    ``nu``, per entropy stage, the weight of its sum of log-widths."""

    costs: np.ndarray
    rho: float
    tangent: float
    stages: np.ndarray
    penalty_slopes: dict[Bucket, float] = field(default_factory=dict)
    """``u`` per depth bucket of a penalised stage (:meth:`Relaxation._buckets`; zero where missing):
    a combination of buckets is charged ``min (P(d) - u . d)`` over its depths and each design
    ``u . d`` more."""


@dataclass(frozen=True)
class Spread:
    """Bounds ``low_j <= S_j <= high_j`` on each entropy stage's sum of log-widths over the designs
    of a box that could beat the target, per value of the stage's width over the box's range of
    it (arrays of that length, or of one entry for every value)."""

    low: list[np.ndarray]
    high: list[np.ndarray]


@dataclass(frozen=True)
class Ceiling:
    """Upper bounds of the total log-width of a box's designs that meet the costs and ``rho``:
    overall, and for each value of the last width (over its whole grid; ``inf`` outside the box).
    They hold in every piece of the box too."""

    total: float
    by_last: np.ndarray


@dataclass(frozen=True)
class Relaxed:
    """The least Lagrangian value found, its multipliers, and the designs the DP chose (indices)."""

    bound: float
    multipliers: Multipliers
    points: list[dict[str, int]]
    chosen: dict[str, int] = field(default_factory=dict)
    """The design the DP chose at those multipliers."""
    open_pieces: int = 0
    """Of :meth:`Relaxation.refine`'s steps: the pieces still open (the bound is the highest's)."""


Choice = Callable[[dict[str, int]], dict[str, int]]
"""Given a stage's previous width and width (indices within the box), the rest of its design."""


class Stop(Protocol):
    """An event (of ``threading`` or ``multiprocessing``) that stops a bound or a refinement when set."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class _Elimination:
    """How a variable was eliminated: the factors it was maximised over, to recover its argmax."""

    variable: str
    factors: list[Factor]


@dataclass(frozen=True)
class _Measure:
    """One design's costs, sum of log-widths, layer count and each entropy stage's ``S_j``."""

    costs: np.ndarray
    log_width: float
    layers: float
    stages: np.ndarray


class Relaxation:
    """The Lagrangian bound of the MP with costs ``limits`` and ``rho <= rho0`` over boxes."""

    def __init__(self, evaluator: GridEvaluator, limits: Sequence[tuple[str, float]], rho0: float) -> None:
        self.evaluate, self.rho0 = evaluator, rho0
        self.space = evaluator.space
        self.grids = evaluator.grids
        self.costs = [name for name, _ in limits]
        self.limits = np.array([limit for _, limit in limits], dtype=float)
        self.totals = ("log_width", "layers", *self.costs)
        self.m = self.space.body_stages
        self.last = f"width{self.m}"
        self.pairs = self.space.pairs()
        self.stem, self.head = self._stack(evaluator.stem), self._stack(evaluator.head)
        self.stages = [(self._stack(first), self._stack(rest)) for first, rest in evaluator.stages]
        self.counted = list(self.space.penalty.counted(np.array([f"depth{s}" for s in range(1, self.m + 1)])))
        """The depths the penalty reads."""
        self.penalised = [int(name.removeprefix("depth")) for name in self.counted]
        """Their stages."""
        self._layer_cache: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._enumeration_cache: dict[tuple[tuple[int, int], ...], tuple[np.ndarray, np.ndarray]] = {}
        """Penalised depth vectors of sets of depth ranges and their penalties (:meth:`_enumerated`)."""
        self._least_cache: dict[tuple[Any, ...], tuple[float, np.ndarray]] = {}
        """The last :meth:`_sloped_least` of each set of depth ranges, by its slopes."""
        self.threads = THREADS
        """Threads that build a DP's stage tables."""
        self.dp_seconds = 0.0
        """How long the next DP is taken to last: the last one's time, or most of the estimate before
        it when that is more (DPs of one box vary by half on a busy machine)."""
        self.ends = self.space.entropy_ends()
        self.channels = ["stem" if s == 0 else f"width{s}" for s in self.ends]
        self.counts = np.zeros((2 * self.m + 2, len(self.ends)))
        """Which parts (stem, (first, further) per stage, head) each entropy stage counts."""
        for j, s in enumerate(self.ends):
            self.counts[: 2 * s + 1, j] = 1.0
            self.counts[-1, j] = float(s == self.m)

    def _stack(self, tables: list[Table]) -> list[Factor]:
        """Each table's totals that the Lagrangian reads, stacked along a first axis."""
        stacked = []
        for table in tables:
            shape = tuple(len(self.grids[a]) for a in table.axes)
            stacked.append((table.axes, np.stack([np.broadcast_to(table.terms[n], shape) for n in self.totals])))
        return stacked

    # --- entropy stages -------------------------------------------------------------------------
    def stage_factor(self, j: int, box: Box) -> np.ndarray:
        """``A_j = alpha_j log(r_j^2 C_j)`` over the box's range of entropy stage ``j``'s width
        (non-decreasing)."""
        s, name = self.ends[j], self.channels[j]
        low, high = box[name]
        channels = self.grids[name][low : high + 1]
        if s == self.m:
            channels = self.space.final_channels(channels)
        factor = self.space.alpha[j] * stage_entropy(self.space.stage_resolutions[s], channels, 1.0)
        return np.broadcast_to(np.asarray(factor, dtype=float), (high - low + 1,))

    def top_weights(self, box: Box) -> np.ndarray:
        """Each part's weight with every ``A_j`` at the box's widest width."""
        return self.counts @ np.array([self.stage_factor(j, box)[-1] for j in range(len(self.ends))])

    def ceiling(self, box: Box, start: Multipliers, deadline: float = np.inf, stop: Stop | None = None) -> Ceiling:
        """Bounds of the total log-width over the box (:class:`Ceiling`): the same dual with the last
        entropy stage's ``nu`` at one and no split, each DP's maximum per last width kept where
        lowest. ``start``'s multipliers are rescaled by its weights' sum to log-width units."""
        unit = np.zeros(len(self.ends))
        unit[-1] = 1.0
        scale = max(float(start.stages.sum()), 1e-12)
        fixed = Multipliers(start.costs / scale, start.rho / scale, start.tangent, unit)
        relaxed, by_last = self._dual(box, fixed, -np.inf, CEILING_ITERATIONS, deadline, None, stop, penalised=False)
        full = np.full(len(self.grids[self.last]), np.inf)
        low, high = box[self.last]
        full[low : high + 1] = by_last
        return Ceiling(relaxed.bound, full)

    def spread(self, box: Box, target: float, ceiling: Ceiling) -> Spread:
        """Bounds on every ``S_j`` over the box's designs with an entropy above ``target`` (see the
        module docstring)."""
        factors = [self.stage_factor(j, box) for j in range(len(self.ends))]
        corner = self._measure({name: low for name, (low, _) in box.items()}).stages
        weight = sum(factor[-1] for factor in factors[:-1]) + factors[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            needed = np.where(weight > 0, target / np.where(weight > 0, weight, 1.0), -np.inf)
        low, high = box[self.last]
        lows = [np.array([value]) for value in corner[:-1]] + [np.maximum(corner[-1], needed)]
        highs = [np.array([ceiling.total])] * (len(self.ends) - 1) + [ceiling.by_last[low : high + 1]]
        return Spread(lows, highs)

    def _split(self, box: Box, nu: np.ndarray, spread: Spread) -> dict[str, np.ndarray]:
        """``phi_j`` over the box's range of each entropy stage's width (``-inf`` where ``low > high``)."""
        terms = {}
        for j, name in enumerate(self.channels):
            excess = self.stage_factor(j, box) - nu[j]
            low, high = spread.low[j], spread.high[j]
            with np.errstate(invalid="ignore"):
                phi = np.where(excess > 0, excess * high, excess * low)
            terms[name] = np.where(low > high, -np.inf, phi)
        return terms

    # --- the Lagrangian at given multipliers ----------------------------------------------------
    def _factors(self, tables: list[Factor], coefficients: np.ndarray, box: Box) -> list[Factor]:
        """Stacked tables (:meth:`_stack`) combined by the coefficients, over the box's ranges."""
        factors = []
        for axes, data in tables:
            values = data[(slice(None), *(slice(box[a][0], box[a][1] + 1) for a in axes))]
            # totals next to last: a stack of matrix-vector products, with no copy of the sliced tables
            factors.append((axes, coefficients @ (np.moveaxis(values, 0, -2) if values.ndim > 1 else values)))
        return factors

    def _order(self, lower: str, upper: str, box: Box) -> Factor:
        """0 where every pair between the two variables holds, ``-inf`` elsewhere."""
        a = self.grids[lower][box[lower][0] : box[lower][1] + 1][:, None]
        b = self.grids[upper][box[upper][0] : box[upper][1] + 1][None, :]
        ok = np.ones((len(a), b.shape[1]), dtype=bool)
        for pair in self.pairs:
            if (pair.lower, pair.upper) == (lower, upper):
                ok &= pair.holds(a, b)
            elif (pair.lower, pair.upper) == (upper, lower):
                ok &= pair.holds(b, a)
        return (lower, upper), np.where(ok, 0.0, -np.inf)

    def stage(
        self, s: int, box: Box, first: np.ndarray, rest: np.ndarray, slope: float = 0.0
    ) -> tuple[np.ndarray, Choice]:
        """Stage ``s``'s table over (previous width, width) and how to recover the rest of its design.

        Each end of the depth range gives a branch: the first block's terms plus ``depth - 1``
        times the further blocks' terms, less ``slope`` times the depth (the depth bucket's penalty
        slope), from which the kernel is eliminated; the branches' terms that differ are merged by
        their maximum, then the inner width is eliminated."""
        previous, width, kernel, inner = self.space.previous(s), f"width{s}", f"kernel{s}", f"inner{s}"
        first_tables, rest_tables = self.stages[s - 1]
        fixed = self._factors(first_tables, first, box)
        further = self._factors(rest_tables, rest, box)
        low, high = box[f"depth{s}"]
        ends = sorted({low, high})
        branches = []
        for end in ends:
            blocks = self.grids[f"depth{s}"][end] - 1.0
            factors = [(own, values * blocks) for own, values in further] + [f for f in fixed if kernel in f[0]]
            if slope:
                own, values = factors[0]
                factors[0] = (own, values - slope * (blocks + 1.0))
            branches.append(_eliminate(factors, kernel) if kernel in self.grids else (factors, None))
        axes = tuple(dict.fromkeys(a for factors, _ in branches for own, _ in factors for a in own))
        merged = [_dense(factors, axes) for factors, _ in branches]
        factors = [f for f in fixed if kernel not in f[0]] + [(axes, np.max(merged, axis=0))]
        factors.append(self._order(previous, width, box))
        if inner in self.grids:
            factors.append(self._order(width, inner, box))
            factors, inner_elimination = _eliminate(factors, inner)

        def choose(at: dict[str, int]) -> dict[str, int]:
            if inner in self.grids:
                at[inner] = _argmax(inner_elimination, at)
            branch = int(np.argmax([values[tuple(at[a] for a in axes)] for values in merged]))
            elimination = branches[branch][1]
            if elimination is not None:
                at[kernel] = _argmax(elimination, at)
            at[f"depth{s}"] = ends[branch] - low
            return at

        return _dense(factors, (previous, width)), choose

    def _coefficients(self, box: Box, multipliers: Multipliers) -> tuple[list[np.ndarray], float]:
        """Each part's coefficients of the totals (log-width, layers, costs) and the constant term."""
        lam, mu, tangent = multipliers.costs, multipliers.rho, multipliers.tangent
        slope = float(min_sum_log_width_slope(tangent, self.rho0))
        constant = float(lam @ self.limits) + mu * (slope * tangent - float(min_sum_log_width(tangent, self.rho0)))
        weights = self.counts @ multipliers.stages
        return [np.concatenate([[w + mu, -mu * slope], -lam]) for w in weights], constant

    def by_last(
        self, box: Box, multipliers: Multipliers, spread: Spread | None = None, penalised: bool = True
    ) -> tuple[np.ndarray, Callable[[int], dict[str, int]]]:
        """The Lagrangian's maximum for each last width over the box's range of it (``phi`` added
        when a spread is given; with ``penalised``, less the depth penalty beyond the box's least
        that each design's depth buckets imply), and how to recover a design attaining it
        (indices) from a position in that range."""
        coefficients, constant = self._coefficients(box, multipliers)
        split = {} if spread is None else self._split(box, multipliers.stages, spread)
        (_, stem), *_ = self._factors(self.stem, coefficients[0], box)
        # per combination of depth buckets so far: the best value per width and how it was reached
        layer: dict[tuple[int, ...], tuple[np.ndarray, Any]] = {(): (stem + split.get("stem", 0.0), None)}
        history, buckets = [], [self._buckets(s, box) if penalised else [box] for s in range(1, self.m + 1)]
        jobs = [(s, piece) for s in range(1, self.m + 1) for piece in buckets[s - 1]]
        mapped = map if self.threads == 1 else _pool(self.threads).map  # one thread: no pool (a forked child's is dead)
        built = iter(
            mapped(
                lambda job: self.stage(
                    job[0],
                    job[1],
                    coefficients[2 * job[0] - 1],
                    coefficients[2 * job[0]],
                    multipliers.penalty_slopes.get((job[0], *job[1][f"depth{job[0]}"]), 0.0),
                ),
                jobs,
            )
        )
        for s in range(1, self.m + 1):
            pieces = buckets[s - 1]
            tables = [next(built) for _ in pieces]
            counted = f"depth{s}" in self.counted
            following: dict[tuple[int, ...], tuple[np.ndarray, Any]] = {}
            for combination, (best, _) in layer.items():
                for b, (piece, (table, choose)) in enumerate(zip(pieces, tables)):
                    total = best[:, None] + table
                    key = (*combination, b) if counted else combination
                    reached = (combination, total.argmax(0), choose, piece)
                    following[key] = (total.max(0) + split.get(f"width{s}", 0.0), reached)
            layer = following
            history.append(layer)
        head = _dense(self._factors(self.head, coefficients[-1], box), (self.last,))
        combinations = list(layer)
        depth_ranges = [self._depth_ranges(box, buckets, c) for c in combinations]
        excess = multipliers.rho * self._tangent_excess(box, depth_ranges, multipliers.tangent)
        if penalised:
            excess = excess + self._excess_penalty(box, depth_ranges, multipliers.penalty_slopes)
        values = np.stack([layer[c][0] for c in combinations]) + head - excess[:, None]

        def design(index: int) -> dict[str, int]:
            combination = combinations[int(np.argmax(values[:, index]))]
            point: dict[str, int] = {}
            for s in range(self.m, 0, -1):
                previous, came_from, choose, piece = history[s - 1][combination][1]
                at = choose({f"width{s}": index, self.space.previous(s): int(came_from[index])})
                point.update({name: position + piece[name][0] for name, position in at.items()})
                index, combination = at[self.space.previous(s)], previous
            return point

        return values.max(0) + constant, design

    def _buckets(self, s: int, box: Box) -> list[Box]:
        """The box with stage ``s``'s depth range cut in up to a few contiguous buckets, when the
        penalty counts it (so many that the combinations stay at most :data:`BUCKETS`, and none
        when that is fewer than :data:`MIN_BUCKETS`)."""
        name = f"depth{s}"
        per_stage = int(BUCKETS ** (1 / len(self.counted)) + 1e-9)
        if name not in self.counted or per_stage < MIN_BUCKETS:
            return [box]
        low, high = box[name]
        count = min(per_stage, high - low + 1)
        edges = np.linspace(low, high + 1, count + 1).round().astype(int)
        return [{**box, name: (int(a), int(b) - 1)} for a, b in zip(edges, edges[1:])]

    def _excess_penalty(
        self, box: Box, depth_ranges: Sequence[Sequence[tuple[int, int]]], slopes: dict[Bucket, float]
    ) -> np.ndarray:
        """What each set of every stage's depth range (:meth:`_depth_ranges`) is charged above the
        box's least penalty (:meth:`_charges`)."""
        return self._charges(depth_ranges, slopes) - self.least_penalty(box)

    def _charges(self, depth_ranges: Sequence[Sequence[tuple[int, int]]], slopes: dict[Bucket, float]) -> np.ndarray:
        """The penalty charged to each set of every stage's depth range: its least penalty, or with
        ``slopes`` (:attr:`Multipliers.penalty_slopes`) its least of the penalty less ``u . d``."""
        sets = [[ranges[s - 1] for s in self.penalised] for ranges in depth_ranges]
        return self._sloped_least(sets, slopes)[0] if slopes else self._least(sets)

    def _sloped_least(
        self, sets: Sequence[Sequence[tuple[int, int]]], slopes: dict[Bucket, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each set of the penalised stages' depth ranges, the least of ``P(d) - u . d`` over its
        depths ``d`` (``u`` the slopes of those ranges' buckets) and the depths attaining it."""
        least, attaining = np.empty(len(sets)), np.empty((len(sets), len(self.penalised)))
        for k, row in enumerate(sets):
            ranges = tuple((int(a), int(b)) for a, b in row)
            u = np.array([slopes.get((s, *pair), 0.0) for s, pair in zip(self.penalised, ranges)])
            key = (ranges, *u)
            if key not in self._least_cache:  # a DP and the subgradient at its design ask for the same
                points, penalties = self._enumerated(ranges)
                values = penalties - points @ u
                best = int(np.argmin(values))
                if len(self._least_cache) > 4 * BUCKETS:
                    self._least_cache.clear()
                self._least_cache[key] = float(values[best]), points[best]
            least[k], attaining[k] = self._least_cache[key]
        return least, attaining

    def _enumerated(self, ranges: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
        """Every vector of penalised depths (values) in a set of index ranges and their penalties
        (kept for the next call with the same set)."""
        if ranges in self._enumeration_cache:
            return self._enumeration_cache[ranges]
        cached = sum(len(points) for points, _ in self._enumeration_cache.values())
        if len(self._enumeration_cache) > 4 * BUCKETS or cached > SLOPED_DEPTHS * 4:
            self._enumeration_cache.clear()
        axes = [self.grids[name][low : high + 1] for name, (low, high) in zip(self.counted, ranges)]
        points = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))
        full = np.zeros((len(points), self.m))
        full[:, [s - 1 for s in self.penalised]] = points
        self._enumeration_cache[ranges] = points, self.space.penalty(full)
        return self._enumeration_cache[ranges]

    def _bucket(self, s: int, box: Box, index: int) -> tuple[int, int]:
        """The range of stage ``s``'s depth bucket (:meth:`_buckets`) that holds depth ``index``."""
        name = f"depth{s}"
        return next(piece[name] for piece in self._buckets(s, box) if piece[name][0] <= index <= piece[name][1])

    def _depth_ranges(self, box: Box, buckets: list[list[Box]], combination: tuple[int, ...]) -> list[tuple[int, int]]:
        """Every stage's depth range (indices) in a combination of depth buckets (a combination holds
        a bucket of every penalised stage, in order)."""
        chosen = iter(combination)
        ranges = []
        for s in range(1, self.m + 1):
            name = f"depth{s}"
            ranges.append(buckets[s - 1][next(chosen)][name] if name in self.counted else box[name])
        return ranges

    def _layer_counts(self, box: Box) -> tuple[np.ndarray, np.ndarray]:
        """The least and most main layers of each part (stem, a stage's first block and each of its
        further blocks, head) over the box (kept for the box's next DP)."""
        key = tuple(box.items())
        if key in self._layer_cache:
            return self._layer_cache[key]
        lows, highs = [], []
        layers = self.totals.index("layers")
        for tables in [self.stem, *(part for stage in self.stages for part in stage), self.head]:
            low = high = 0.0
            for axes, data in tables:
                values = data[layers][tuple(slice(box[a][0], box[a][1] + 1) for a in axes)]
                low, high = low + float(values.min()), high + float(values.max())
            lows.append(low)
            highs.append(high)
        self._layer_cache = {key: (np.array(lows), np.array(highs))}
        return self._layer_cache[key]

    def _tangent_excess(
        self, box: Box, depth_ranges: Sequence[Sequence[tuple[int, int]]], tangent: float
    ) -> np.ndarray:
        """For each set of depth ranges, the least of ``g(L)`` above its tangent at ``tangent`` over the
        layer counts ``L`` those depths allow: ``rho <= rho0`` makes ``S - g(L*) - g'(L*) (L - L*)`` at
        least that (``g`` is convex), not only zero."""
        ranges = np.array(depth_ranges)  # (sets, stages, 2)

        def layers(counts: np.ndarray, end: int) -> np.ndarray:
            """Stem, head, and every stage's first block and further blocks at that end of its range."""
            blocks = [self.grids[f"depth{s}"][ranges[:, s - 1, end]] - 1 for s in range(1, self.m + 1)]
            return counts[0] + counts[-1] + sum(counts[2 * s - 1] + b * counts[2 * s] for s, b in enumerate(blocks, 1))

        lows, highs = self._layer_counts(box)
        nearest = np.clip(tangent, layers(lows, 0), layers(highs, 1))
        slope = min_sum_log_width_slope(tangent, self.rho0)
        above = (
            min_sum_log_width(nearest, self.rho0) - min_sum_log_width(tangent, self.rho0) - slope * (nearest - tangent)
        )
        return np.maximum(above, 0.0)

    def least_penalty(self, box: Box) -> float:
        """The least depth penalty over the box (:meth:`DepthPenalty.least`)."""
        return float(self._least([[box[name] for name in self.counted]])[0])

    def _least(self, ranges: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray:
        """The least depth penalty over each set of index ranges of the penalised depths."""
        ends = np.array([[self.grids[name][list(pair)] for name, pair in zip(self.counted, row)] for row in ranges])
        return self.space.penalty.least(ends[..., 0], ends[..., 1])

    def value(self, box: Box, multipliers: Multipliers, spread: Spread | None = None) -> tuple[float, dict[str, int]]:
        """The Lagrangian's maximum over the box at ``multipliers`` (a bound) and a design attaining it."""
        values, design = self.by_last(box, multipliers, spread)
        index = int(np.argmax(values))
        if not np.isfinite(values[index]):
            return -np.inf, {}
        return float(values[index]), design(index)

    # --- the dual -------------------------------------------------------------------------------
    def start(self, point: dict[str, int]) -> Multipliers:
        """Multipliers at which the Lagrangian is stationary at a design (indices), with ``nu`` its
        own ``A_j`` and the tangent at its layer count ``L``, along two directions: every width
        scaled (entropy ``E`` grows ``W L`` with ``W = E / S``, ``S`` its sum of log-widths, the
        costs, all taken as binding, twice as fast as the widths) and every depth (entropy and costs
        in proportion, the tangent's slack by ``S - g'(L) L``). Each cost gets an equal share."""
        at = {name: (index, index) for name, index in point.items()}
        stages = np.array([self.stage_factor(j, at)[0] for j in range(len(self.ends))])
        measure = self._measure(point)
        entropy, log_width, layers = float(stages @ measure.stages), measure.log_width, measure.layers
        slope = float(min_sum_log_width_slope(layers, self.rho0))
        weight = entropy / log_width
        room = slope * layers + layers / 2 - log_width
        mu = max(0.0, (entropy - layers * weight / 2) / room) if room > 0 else 0.0
        share = layers * (weight + mu) / 2 / max(len(self.costs), 1)
        return Multipliers(share / self.limits, mu, layers, stages)

    def bound(
        self,
        box: Box,
        start: Multipliers,
        target: float,
        iterations: int = ITERATIONS,
        deadline: float = np.inf,
        spread: Spread | None = None,
        stop: Stop | None = None,
    ) -> Relaxed:
        """The least Lagrangian bound found from ``start`` (its tangent point kept) by the bundle
        method, its multipliers and every design the DP chose. With a ``spread`` the ``nu`` are
        multipliers too; without, they stay as given (no split). Stops early once the bound is at
        most ``target`` (the box holds nothing better than that), or before a DP that would end
        past ``deadline`` (``time.perf_counter()``; by :attr:`dp_seconds`); the first step is sized
        as if the bound could reach ``target`` (zero when it is ``-inf``), or once ``stop`` is set. A
        bound that no DP had the time for is ``inf``."""
        return self._dual(box, start, target, iterations, deadline, spread, stop)[0]

    def _dual(
        self,
        box: Box,
        start: Multipliers,
        target: float,
        iterations: int,
        deadline: float,
        spread: Spread | None,
        stop: Stop | None = None,
        penalised: bool = True,
    ) -> tuple[Relaxed, np.ndarray]:
        """:meth:`bound`, and for each last width the least of the DPs' maxima there."""
        tangent = start.tangent
        scale = np.append(self.limits, min_sum_log_width(tangent, self.rho0))
        costs = len(self.limits)
        fixed = start.stages.copy()
        free = np.zeros(len(self.ends), dtype=bool)
        if spread is not None:  # nu per unit of the largest S_j, where A_j varies and S_j is bounded (else A_j's top)
            factors = [self.stage_factor(j, box) for j in range(len(self.ends))]
            bounded = [bool((high < np.inf).all()) for high in spread.high]
            free = np.array([factor[-1] > factor[0] and ok for factor, ok in zip(factors, bounded)])
            fixed[~free] = [factor[-1] for factor, split in zip(factors, free) if not split]
            highs = [float(np.max(high[np.isfinite(high)], initial=1.0)) for high in spread.high]
            scale = np.concatenate([scale, np.array(highs)[free]])

        nus = slice(costs + 1, len(scale))
        keys = self._sloped_buckets(box) if penalised else []
        span = float(np.ptp(self.grids[self.counted[-1]])) or 1.0  # slopes per unit of the depth range
        scale = np.concatenate([scale, np.full(len(keys), span)])
        signed = np.arange(len(scale)) >= nus.stop  # slopes may take either sign

        def multipliers(at: np.ndarray) -> Multipliers:
            stages = fixed.copy()
            stages[free] = at[nus] / scale[nus]
            slopes = {key: float(value / span) for key, value in zip(keys, at[nus.stop :])}
            return Multipliers(at[:costs] / scale[:costs], float(at[costs] / scale[costs]), tangent, stages, slopes)

        slopes = [_inherited(start.penalty_slopes, key) for key in keys]
        center = current = np.concatenate([start.costs, [start.rho], start.stages[free], slopes]) * scale
        stages = range(1, self.m + 1)
        points: list[dict[str, int]] = []
        cuts: list[tuple[np.ndarray, float, np.ndarray]] = []
        best, weight, chosen = np.inf, 0.0, {}
        by_last = np.full(box[self.last][1] - box[self.last][0] + 1, np.inf)
        for _ in range(iterations):
            if time.perf_counter() + self.dp_seconds > deadline or (stop is not None and stop.is_set()):
                break
            at = multipliers(current)
            began = time.perf_counter()
            values, design = self.by_last(box, at, spread, penalised)
            self.dp_seconds = max(0.8 * self.dp_seconds, time.perf_counter() - began)
            by_last = np.minimum(by_last, values)
            index = int(np.argmax(values))
            if not np.isfinite(values[index]):
                return Relaxed(-np.inf, at, points), by_last
            value, point = float(values[index]), design(index)
            points.append(point)
            measure = self._measure(point)
            tangent_slack = measure.log_width - min_sum_log_width(tangent, self.rho0)
            tangent_slack -= min_sum_log_width_slope(tangent, self.rho0) * (measure.layers - tangent)
            ranges = [self._bucket(s, box, point[f"depth{s}"]) if penalised else box[f"depth{s}"] for s in stages]
            tangent_slack -= float(self._tangent_excess(box, [ranges], tangent)[0])
            gradient = np.append(1.0 - measure.costs / self.limits, tangent_slack / scale[costs])
            if spread is not None and free.any():
                taken = self._taken(box, at.stages, spread, point, measure)[free]
                gradient = np.concatenate([gradient, taken / scale[nus]])
            if keys:
                gradient = np.concatenate([gradient, self._slope_gradient(keys, ranges, point, at) / span])
            cuts = [*cuts[1 - BUNDLE :], (current, value, gradient)]
            if value < best:
                center, best, weight, chosen = current, value, 2.0 * weight, point
            else:
                weight /= 2.0
            if best <= target:
                break
            if not weight:
                reach = value - target if np.isfinite(target) else abs(value)
                weight = reach / max(float(gradient @ gradient), 1e-12)
            current = _proximal_step(cuts, center, weight, signed)
        return Relaxed(best, multipliers(center), points, chosen), by_last

    def _sloped_buckets(self, box: Box) -> list[Bucket]:
        """The box's depth buckets that get a penalty slope: every bucket (:meth:`_buckets`) of each
        penalised stage with more than one depth, its whole range where it is not cut in buckets
        (as ``mbv2``'s four penalised stages are not), when their combinations hold at most
        :data:`SLOPED_DEPTHS` vectors of depths (which :meth:`_sloped_least` enumerates)."""
        keys, combinations = [], 1
        for s in self.penalised:
            low, high = box[f"depth{s}"]
            if high > low:
                keys += [(s, *piece[f"depth{s}"]) for piece in self._buckets(s, box)]
                combinations *= high - low + 1
        return keys if combinations <= SLOPED_DEPTHS else []

    def _slope_gradient(
        self, keys: list[Bucket], ranges: list[tuple[int, int]], point: dict[str, int], at: Multipliers
    ) -> np.ndarray:
        """The subgradient of the bound in each bucket's penalty slope at a design whose depths lie in
        ``ranges``: for the buckets that hold them, the depths where their combination's charge is
        least, less the design's."""
        counted = [ranges[s - 1] for s in self.penalised]
        _, attaining = self._sloped_least([counted], at.penalty_slopes)
        gradient = np.zeros(len(keys))
        for k, (s, name) in enumerate(zip(self.penalised, self.counted)):
            key = (s, *counted[k])
            if key in keys:
                gradient[keys.index(key)] = attaining[0, k] - self.grids[name][point[name]]
        return gradient

    def _taken(self, box: Box, nu: np.ndarray, spread: Spread, point: dict[str, int], measure: _Measure) -> np.ndarray:
        """The subgradient of the bound in each ``nu_j`` at a design: ``S_j`` less the bound ``phi_j`` took."""
        slopes = []
        for j, name in enumerate(self.channels):
            position = point[name] - box[name][0]
            low, high = spread.low[j], spread.high[j]
            above = self.stage_factor(j, box)[position] > nu[j]
            side = high if above else low
            slopes.append(measure.stages[j] - float(side[min(position, len(side) - 1)]))
        return np.array(slopes)

    def refine(
        self, box: Box, start: Multipliers, target: float, deadline: float = np.inf, stop: Stop | None = None
    ) -> Generator[Relaxed, float | None, None]:
        """Bounds of the objective over the box, ever tighter: :meth:`bound` with the split
        (:class:`Spread` from the box's :meth:`ceiling`; ``nu`` starts from ``start``'s for the last
        entropy stage, the only one whose spread depends on its width, and from the box's widest
        ``A_j`` for the others, the plain bound) less the box's least depth penalty, then tightened
        by cutting it, step by step: best first, the piece with the highest bound is cut in two
        (:meth:`_halves`), and each half is bounded from its parent's
        multipliers (a depth bucket's slope from the parent's bucket that holds it) with its own
        spread and penalty (at most its parent's bound). Pieces whose
        objective is at most ``target`` are closed. After the whole box and after each cut, yields
        the bound so far (the highest open piece's; ``-inf`` when every piece closed) with the
        designs the DPs of that step chose; stops when no piece is open, the highest one is one
        design that beats the target (the bound is then its objective), a DP would end past
        ``deadline``, or ``stop`` is set. A value sent in (a better design's objective, found
        meanwhile) raises the target from the next step on."""
        factors = [self.stage_factor(j, box) for j in range(len(self.ends))]
        if any(factor[-1] > factor[0] for factor in factors):
            # every split's high: the last stage's by last width, the others' the total (also where the
            # last width is fixed by a head conv, as in mbv2); in at most half the time left, as the
            # box's own bound needs the rest
            now = time.perf_counter()
            ceiling = self.ceiling(box, start, now + (deadline - now) / 2, stop)
        else:  # every A_j fixed: no split pays for the ceiling's DPs
            ceiling = Ceiling(np.inf, np.full(len(self.grids[self.last]), np.inf))

        def bounded(piece: Box, multipliers: Multipliers, iterations: int) -> tuple[Relaxed, float, Spread]:
            least = self.least_penalty(piece)
            spread = self.spread(piece, target + least, ceiling)
            if all(low == high for low, high in piece.values()):  # one design: its own objective
                point = {name: low for name, (low, _) in piece.items()}
                value = self._objective(point)
                if value <= target + SAME * abs(target):  # the target's own design, summed in another order
                    value = -np.inf
                return Relaxed(value + least, multipliers, [point], point), least, spread
            relaxed = self.bound(piece, multipliers, target + least, iterations, deadline, spread, stop)
            return relaxed, least, spread

        tops = [factor[-1] for factor in factors[:-1]]
        iterations = SLOPED_ITERATIONS if self._sloped_buckets(box) else ITERATIONS
        root, least, spread = bounded(box, replace(start, stages=np.append(tops, start.stages[-1:])), iterations)
        heap = [(-(root.bound - least), 0, box, root, spread)] if root.bound - least > target else []
        sent = yield Relaxed(
            root.bound - least if heap else -np.inf, root.multipliers, root.points, open_pieces=len(heap)
        )
        evaluated = 1
        while heap and time.perf_counter() + self.dp_seconds <= deadline and not (stop is not None and stop.is_set()):
            target = max(target, -np.inf if sent is None else sent)
            if -heap[0][0] <= target:  # every piece closed by a better design
                yield Relaxed(-np.inf, root.multipliers, [])
                return
            parent, _, piece, relaxed, spread = heap[0]
            halves = self._halves(piece, relaxed, spread)
            if halves is None:
                return
            heapq.heappop(heap)
            points = []
            for half in halves:
                child, least, spread = bounded(half, relaxed.multipliers, PIECE_ITERATIONS)
                points += child.points
                evaluated += 1
                if child.bound - least > target:
                    heapq.heappush(heap, (max(-(child.bound - least), parent), evaluated, half, child, spread))
            sent = yield Relaxed(-heap[0][0] if heap else -np.inf, root.multipliers, points, open_pieces=len(heap))

    def _halves(self, box: Box, relaxed: Relaxed, spread: Spread) -> tuple[Box, Box] | None:
        """The box cut in two where the design the DP chose at its bound exploits the relaxation
        most: when its depth penalty exceeds what the DP charged it by more than its split entropy
        (:class:`Spread`) exceeds its entropy, the middle of the range of the penalised depth
        farthest from their mean; else the geometric middle of the stem or stage width whose range
        raises the weights most; else :meth:`_disagreement`. ``None`` for a box of one design."""
        depths = self._penalised(box, relaxed.chosen)
        if depths is not None and self._undercharge(box, relaxed) > self._split_excess(box, relaxed, spread):
            name = depths[0]
            low, high = box[name]
            middle = (low + high + 1) // 2
            return {**box, name: (low, middle - 1)}, {**box, name: (middle, high)}
        top = self.top_weights(box).sum()
        gains = {}
        for name in ["stem", *(f"width{s}" for s in range(1, self.m + 1))]:
            low, high = box[name]
            if high > low:
                gains[name] = top - self.top_weights({**box, name: (low, low)}).sum()
        if not gains or max(gains.values()) <= 0:
            return self._disagreement(box, relaxed)
        name = max(gains, key=gains.__getitem__)
        low, high = box[name]
        grid = self.grids[name]
        middle = int(np.searchsorted(grid, np.sqrt(grid[low] * grid[high])))
        middle = min(max(middle, low + 1), high)
        return {**box, name: (low, middle - 1)}, {**box, name: (middle, high)}

    def _disagreement(self, box: Box, relaxed: Relaxed) -> tuple[Box, Box] | None:
        """The box cut where the designs its DPs chose differ most, as a share of the variable's range,
        midway between the least and the most of them (the bound mixes those designs); where they all
        agree, the middle of the widest range. ``None`` for a box of one design."""
        cuttable = [name for name, (low, high) in box.items() if high > low]
        if not cuttable:
            return None
        chosen = {name: [point[name] for point in relaxed.points] or [box[name][0]] for name in cuttable}
        name = max(cuttable, key=lambda name: (max(chosen[name]) - min(chosen[name])) / (box[name][1] - box[name][0]))
        if max(chosen[name]) == min(chosen[name]):  # they all agree
            name = max(cuttable, key=lambda name: box[name][1] - box[name][0])
            chosen[name] = list(box[name])
        low, high = box[name]
        middle = min(max((min(chosen[name]) + max(chosen[name]) + 1) // 2, low + 1), high)
        return {**box, name: (low, middle - 1)}, {**box, name: (middle, high)}

    def _objective(self, point: dict[str, int]) -> float:
        """The objective of one design (indices), with the penalty (:class:`GridEvaluator`'s);
        ``-inf`` if it is infeasible."""
        index = {name: np.array([position]) for name, position in point.items()}
        evaluation = self.evaluate(index)
        totals = evaluation.totals
        costs = np.array([float(totals[name][0]) for name in self.costs])
        if (
            not self.space.ordered({name: self.grids[name][i] for name, i in index.items()})[0]
            or (costs > self.limits).any()
            or totals["log_width"][0] < min_sum_log_width(totals["layers"][0], self.rho0)
        ):
            return -np.inf
        return float(evaluation.objective[0])

    def _undercharge(self, box: Box, relaxed: Relaxed) -> float:
        """How far the depth penalty of the design the DP chose exceeds what the DP charged it (its
        buckets' charge and its slopes, :meth:`_charges`)."""
        point, slopes = relaxed.chosen, relaxed.multipliers.penalty_slopes
        ranges = [self._bucket(s, box, point[f"depth{s}"]) for s in range(1, self.m + 1)]
        depths = np.array([self.grids[f"depth{s}"][point[f"depth{s}"]] for s in range(1, self.m + 1)])
        charged = float(self._charges([ranges], slopes)[0])
        charged += sum(slopes.get((s, *ranges[s - 1]), 0.0) * depths[s - 1] for s in self.penalised)
        return float(self.space.penalty(depths)) - charged

    def _penalised(self, box: Box, point: dict[str, int]) -> tuple[str, np.ndarray] | None:
        """Of the design's penalised depths whose range in the box can be cut, the one farthest from
        their mean, with every stage's depth (``None`` when none can be cut)."""
        if not point:
            return None
        depths = np.array([self.grids[f"depth{s}"][point[f"depth{s}"]] for s in range(1, self.m + 1)])
        values = self.space.penalty.counted(depths)
        open_ = [k for k, name in enumerate(self.counted) if box[name][1] > box[name][0]]
        if not open_:
            return None
        farthest = max(open_, key=lambda k: abs(values[k] - values.mean()))
        return self.counted[farthest], depths

    def _split_excess(self, box: Box, relaxed: Relaxed, spread: Spread) -> float:
        """How far the split's terms exceed the entropy at the design the DP chose."""
        point, nu = relaxed.chosen, relaxed.multipliers.stages
        if not point:
            return 0.0
        stages = self._measure(point).stages
        split = self._split(box, nu, spread)
        excess = 0.0
        for j, name in enumerate(self.channels):
            position = point[name] - box[name][0]
            excess += (nu[j] - float(self.stage_factor(j, box)[position])) * stages[j] + float(split[name][position])
        return excess

    def _measure(self, point: dict[str, int]) -> _Measure:
        """Costs, sum of log-widths, layer count and every ``S_j`` of one design (indices)."""
        parts = self.evaluate.parts({name: np.array([index]) for name, index in point.items()})
        log_widths = np.array([float(part["log_width"][0]) for part in parts])
        total = sum(parts[1:], parts[0])
        costs = np.array([float(total[name][0]) for name in self.costs])
        return _Measure(costs, float(total["log_width"][0]), float(total["layers"][0]), log_widths @ self.counts)


def _inherited(slopes: dict[Bucket, float], key: Bucket) -> float:
    """The slope of a depth bucket, or of the bucket that holds it (a piece's parent's), else zero."""
    s, low, high = key
    return next((v for (t, a, b), v in slopes.items() if t == s and a <= low and high <= b), 0.0)


@lru_cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads)


def _proximal_step(
    cuts: list[tuple[np.ndarray, float, np.ndarray]], center: np.ndarray, weight: float, signed: np.ndarray
) -> np.ndarray:
    """``argmin_y max_k (f_k + g_k . (y - y_k)) + |y - center|^2 / (2 weight)``, then ``y >= 0``: through
    its dual, ``max_a a . l - weight |G' a|^2 / 2`` over the simplex (``l_k`` the cuts at the
    center), solved by accelerated projected gradient steps."""
    gradients = np.array([g for _, _, g in cuts])
    at_center = np.array([f + g @ (center - y) for y, f, g in cuts])
    gram = weight * gradients @ gradients.T
    step = 1.0 / max(float(np.linalg.eigvalsh(gram)[-1]), 1e-12)
    mix = previous = np.full(len(cuts), 1.0 / len(cuts))
    for k in range(QP_STEPS):
        ahead = mix + k / (k + 3) * (mix - previous)
        previous, mix = mix, _onto_simplex(ahead + step * (at_center - gram @ ahead))
    step_to = center - weight * gradients.T @ mix
    return np.where(signed, step_to, np.maximum(step_to, 0.0))


def _onto_simplex(v: np.ndarray) -> np.ndarray:
    """The Euclidean projection onto ``{a >= 0, sum a = 1}`` (taken of ``v - max(v)``, the same
    projection, so that huge entries do not swallow the ``1`` in rounding)."""
    v = v - np.max(v)
    ordered = np.sort(v)[::-1]
    totals = np.cumsum(ordered) - 1.0
    last = np.flatnonzero(ordered - totals / np.arange(1, len(v) + 1) > 0)[-1]
    return np.maximum(v - totals[last] / (last + 1), 0.0)


def _expand(factor: Factor, axes: tuple[str, ...]) -> np.ndarray:
    """A factor's values laid out to broadcast over ``axes`` (which hold all of its own)."""
    own, values = factor
    order = sorted(range(len(own)), key=lambda j: axes.index(own[j]))
    shape = [1] * len(axes)
    for j in order:
        shape[axes.index(own[j])] = values.shape[j]
    return np.ascontiguousarray(np.transpose(values, order)).reshape(shape)


def _dense(factors: Sequence[Factor], axes: tuple[str, ...]) -> np.ndarray:
    """The sum of factors as one table over ``axes`` (each axis read by some factor)."""
    sizes = {a: n for own, values in factors for a, n in zip(own, values.shape)}
    total: np.ndarray | float = 0.0
    for factor in factors:
        total = total + _expand(factor, axes)
    return np.broadcast_to(total, tuple(sizes[a] for a in axes))


def _absorb(factors: list[Factor]) -> list[Factor]:
    """The same sum with every factor whose variables another one reads added into that one."""
    factors = sorted(factors, key=lambda f: -len(f[0]))
    merged: list[Factor] = []
    for factor in factors:
        host = next((j for j, (own, _) in enumerate(merged) if set(factor[0]) <= set(own)), None)
        if host is None:
            merged.append(factor)
        else:
            own, values = merged[host]
            merged[host] = (own, values + _expand(factor, own))
    return merged


def _eliminate(factors: list[Factor], variable: str) -> tuple[list[Factor], _Elimination]:
    """Maximise the sum of factors over ``variable``: the factors that read it become one factor
    of the other variables they read. The table is built in chunks along the variable that the
    orderings tie most to the eliminated one, each chunk over only the eliminated values that
    some entry of the chunk allows and, where the result reads two variables that the other
    factors order (a stage's previous width and its width), only the other one's values that
    some entry of the chunk allows (the rest is ``-inf`` in the sum anyway)."""
    reading = _absorb([f for f in factors if variable in f[0]])
    others = [f for f in factors if variable not in f[0]]
    elimination = _Elimination(variable, reading)
    axes = tuple(dict.fromkeys(a for own, _ in reading for a in own if a != variable))
    if not axes:
        return [*others, ((), _dense(reading, (variable,)).max(-1))], elimination
    sizes = {a: n for own, values in reading for a, n in zip(own, values.shape)}
    live = {a: _live(reading, a, variable, sizes) for a in axes}
    lead = min(axes, key=lambda a: live[a].sum())
    axes = (lead, *(a for a in axes if a != lead))
    ordered = _live(others, lead, axes[1], sizes) if len(axes) == 2 else None
    # each factor laid out once over (variable, *axes), in single precision; chunks slice views of it
    layout = (variable, *axes)
    single = [_expand((own, values.astype(np.float32)), layout) for own, values in reading]
    result = np.full(tuple(sizes[a] for a in axes), -np.inf)
    step = max(1, CHUNK // int(np.prod([sizes[a] for a in (*axes[1:], variable)])))
    for start in range(0, sizes[lead], step):
        allowed = np.flatnonzero(live[lead][start : start + step].any(0))
        columns = None if ordered is None else _span(np.asarray(ordered[start : start + step].any(0)))
        if len(allowed) and (columns is None or columns.stop > columns.start):
            ranges = [slice(allowed[0], allowed[-1] + 1), slice(start, start + step)]
            rows: tuple[slice, ...] = (slice(start, start + step),)
            if columns is not None:
                ranges.append(columns)
                rows += (columns,)
            first, *more = (
                values[tuple(r if n > 1 else slice(None) for r, n in zip(ranges, values.shape))] for values in single
            )
            for values in more:
                first = first + values
            result[rows] = first.max(0)
    return [*others, (axes, result + _rounding(reading))], elimination


def _span(allowed: np.ndarray) -> slice:
    """The smallest range of positions that holds every allowed one (empty when none is)."""
    where = np.flatnonzero(allowed)
    return slice(int(where[0]), int(where[-1]) + 1) if len(where) else slice(0, 0)


def _rounding(factors: list[Factor]) -> float:
    """The most that summing the factors in single precision can fall short of the exact sum: ``n``
    roundings of relative size ``2^-24`` (the values and ``n - 1`` additions), doubled for safety."""
    largest = sum(float(np.max(np.abs(values), where=np.isfinite(values), initial=0.0)) for _, values in factors)
    return 2.0 * len(factors) * 2.0**-24 * largest


def _live(factors: list[Factor], axis: str, variable: str, sizes: dict[str, int]) -> np.ndarray:
    """Which (``axis``, ``variable``) entries the factors reading both leave above ``-inf``."""
    live = np.ones((sizes[axis], sizes[variable]), dtype=bool)
    for own, values in factors:
        if axis in own and variable in own:
            finite = np.isfinite(values).any(axis=tuple(j for j, a in enumerate(own) if a not in (axis, variable)))
            live &= finite if own.index(axis) < own.index(variable) else finite.T
    return live


def _argmax(elimination: _Elimination, at: dict[str, int]) -> int:
    """The eliminated variable's best index given the other variables its factors read."""
    total: np.ndarray | float = 0.0
    for own, values in elimination.factors:
        total = total + values[tuple(slice(None) if a == elimination.variable else at[a] for a in own)]
    return int(np.argmax(total))
