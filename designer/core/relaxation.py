"""Lagrangian upper bound of the design MP over a box of grid indices, by dynamic programming.

Relaxation
----------
Over a box, every entropy stage's ``log(r^2 C)`` is at most its value at the box's largest
widths, and sums of log-widths are non-negative, so the multi-scale entropy is at most
``sum_p W_p S_p``: each part ``p`` of the network (stem, a stage's first block, its further
blocks, head) weighs its log-widths ``S_p`` by the weights ``W_p`` of the entropy stages it
counts in. The depth penalty only subtracts, so the caller subtracts its least value over the
box. Costs are dualised with multipliers ``lam >= 0``; ``rho <= rho0``, i.e. ``S >= g(L)`` with
``g`` convex (:func:`~designer.core.entropy.min_sum_log_width`), implies
``S >= g(L*) + g'(L*) (L - L*)`` for any ``L*``, which is dualised with ``mu >= 0``. For every
choice of multipliers,

    ``max_x sum_p W_p S_p(x) + mu (S(x) - g(L*) - g'(L*) (L(x) - L*)) + lam . (B - C(x))``

over the box (orderings kept) bounds the entropy of every feasible design in it (weak duality),
whatever the costs are: measured latency needs neither monotonicity nor convexity.

Dynamic programming
-------------------
Every total is a sum of tables, each reading a few variables (:class:`GridEvaluator`), so the
Lagrangian separates into a chain over the stages' input and output widths: a stage's further
blocks add ``(depth - 1)`` times a term of its width, inner width and kernel, maximised at an
end of the depth range; the kernel and then the inner width are eliminated by maximisation
(orderings enter as ``-inf`` factors; the large tables are summed in single precision and the
result raised by a bound on the rounding), leaving a table of the previous and the stage's
width; a max-plus pass along the chain gives the maximum and, backtracked, the design attaining
it.

Dual
----
The bound is minimised over the multipliers (the tangent point kept) by a proximal bundle method
in scale-free coordinates (each multiplier times its constraint's size, so that every coordinate
is in units of the objective and every subgradient a fraction): each DP gives a value and a
subgradient (the slacks of its design), the cutting-plane model of the recent ones plus a
proximal term picks the next multipliers, and the proximal weight doubles after a step that
lowers the bound and halves after one that does not. Every iterate is a valid bound; the least
is kept. It starts from multipliers that make the Lagrangian stationary at a known design
(:meth:`Relaxation.start`).

Refinement
----------
The weights ``W`` take every entropy stage's width at the box's largest, which costs most, in the
ResNet families, for the last stage (its weight is 8 by default and its width ends far below the
grid's top): cutting the box in pieces along that width, each bounded on its own, tightens the
bound (:meth:`Relaxation.refine`): best first, for as long as the caller asks (there is no cap on
the pieces, so a longer time limit keeps lowering the bound).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from designer.core.entropy import min_sum_log_width, min_sum_log_width_slope
from designer.core.space import GridEvaluator, Table, Terms

Box = dict[str, tuple[int, int]]
"""Inclusive index range of every variable."""
Factor = tuple[tuple[str, ...], np.ndarray]
"""A term of the Lagrangian: values over the box's ranges of some variables (in that order)."""
CHUNK = 1 << 20
"""Entries of a dense table built at once when a variable is eliminated."""
ITERATIONS = 15
BUNDLE = 20
QP_STEPS = 50
"""DP evaluations of the dual, the most cutting planes kept, and the gradient steps that solve the
bundle's quadratic programme."""
PIECE_ITERATIONS = 8
"""DP evaluations of each piece that :meth:`Relaxation.refine` bounds."""


@dataclass(frozen=True)
class Multipliers:
    """``lam`` per unit of each cost, ``mu`` per unit of log-width, and the tangent point ``L*``."""

    costs: np.ndarray
    rho: float
    tangent: float


@dataclass(frozen=True)
class Relaxed:
    """The least Lagrangian value found, its multipliers, and the designs the DP chose (indices)."""

    bound: float
    multipliers: Multipliers
    points: list[dict[str, int]]


Choice = Callable[[dict[str, int]], dict[str, int]]
"""Given a stage's previous width and width (indices within the box), the rest of its design."""


@dataclass(frozen=True)
class _Elimination:
    """How a variable was eliminated: the factors it was maximised over, to recover its argmax."""

    variable: str
    factors: list[Factor]


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
        self.pairs = self.space.pairs()
        self.stem, self.head = self._stack(evaluator.stem), self._stack(evaluator.head)
        self.stages = [(self._stack(first), self._stack(rest)) for first, rest in evaluator.stages]

    def _stack(self, tables: list[Table]) -> list[Factor]:
        """Each table's totals that the Lagrangian reads, stacked along a first axis."""
        stacked = []
        for table in tables:
            shape = tuple(len(self.grids[a]) for a in table.axes)
            stacked.append((table.axes, np.stack([np.broadcast_to(table.terms[n], shape) for n in self.totals])))
        return stacked

    # --- the Lagrangian at given multipliers ----------------------------------------------------
    def weights(self, box: Box) -> np.ndarray:
        """``W_p`` of the parts stem, (first, further) per stage, head: the multi-scale entropy per
        unit of each part's log-widths with every stage's ``C`` at the box's largest width, from
        the one formula (:meth:`SearchSpace.assemble`) applied to unit log-widths."""
        parts = 2 * self.m + 2
        unit = np.eye(parts)

        def terms(j: int) -> Terms:
            return Terms(("log_width",), unit[j][None])

        top = {name: self.grids[name][high] for name, (_, high) in box.items()}
        stages = [(terms(2 * s - 1), terms(2 * s)) for s in range(1, self.m + 1)]
        channels = [top[f"width{s}"] for s in range(1, self.m)] + [self.space.final_channels(top[f"width{self.m}"])]
        evaluation = self.space.assemble(
            terms(0), stages, terms(parts - 1), channels, top["stem"], [np.full(parts, 2.0)] * self.m
        )
        return np.asarray(evaluation.entropy, dtype=float)

    def _factors(self, tables: list[Factor], coefficients: np.ndarray, box: Box) -> list[Factor]:
        """Stacked tables (:meth:`_stack`) combined by the coefficients, over the box's ranges."""
        factors = []
        for axes, data in tables:
            ranges = tuple(slice(box[a][0], box[a][1] + 1) for a in axes)
            factors.append((axes, np.tensordot(coefficients, data[(slice(None), *ranges)], 1)))
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

    def stage(self, s: int, box: Box, first: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, Choice]:
        """Stage ``s``'s table over (previous width, width) and how to recover the rest of its design.

        Each end of the depth range gives a branch: the first block's terms plus ``depth - 1``
        times the further blocks' terms, from which the kernel is eliminated; the branches' terms
        that differ are merged by their maximum, then the inner width is eliminated."""
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
        return [np.concatenate([[w + mu, -mu * slope], -lam]) for w in self.weights(box)], constant

    def value(self, box: Box, multipliers: Multipliers) -> tuple[float, dict[str, int]]:
        """The Lagrangian's maximum over the box at ``multipliers`` (a bound) and a design attaining it."""
        coefficients, constant = self._coefficients(box, multipliers)
        (_, best), *_ = self._factors(self.stem, coefficients[0], box)
        chain = []
        for s in range(1, self.m + 1):
            table, choose = self.stage(s, box, coefficients[2 * s - 1], coefficients[2 * s])
            total = best[:, None] + table
            chain.append((total.argmax(0), choose))
            best = total.max(0)
        best = best + _dense(self._factors(self.head, coefficients[-1], box), (f"width{self.m}",))
        index = int(np.argmax(best))
        value = float(best[index] + constant)
        if not np.isfinite(value):
            return -np.inf, {}
        point: dict[str, int] = {}
        for s in range(self.m, 0, -1):
            came_from, choose = chain[s - 1]
            at = choose({f"width{s}": index, self.space.previous(s): int(came_from[index])})
            point.update({name: position + box[name][0] for name, position in at.items()})
            index = at[self.space.previous(s)]
        return value, point

    # --- the dual -------------------------------------------------------------------------------
    def start(self, entropy: float, log_width: float, layers: float) -> Multipliers:
        """Multipliers at which the Lagrangian is stationary, at a design with this entropy ``E``,
        sum of log-widths ``S`` and layer count ``L`` (tangent there), along two directions: every
        width scaled (entropy grows ``W L`` with ``W = E / S``, the costs, all taken as binding, twice
        as fast as the widths) and every depth (entropy and costs in proportion, the tangent's
        slack by ``S - g'(L) L``). Each cost gets an equal share."""
        slope = float(min_sum_log_width_slope(layers, self.rho0))
        weight = entropy / log_width
        room = slope * layers + layers / 2 - log_width
        mu = max(0.0, (entropy - layers * weight / 2) / room) if room > 0 else 0.0
        share = layers * (weight + mu) / 2 / max(len(self.costs), 1)
        return Multipliers(share / self.limits, mu, layers)

    def bound(
        self, box: Box, start: Multipliers, target: float, iterations: int = ITERATIONS, deadline: float = np.inf
    ) -> Relaxed:
        """The least Lagrangian bound found from ``start`` (its tangent point kept) by the bundle
        method, its multipliers and every design the DP chose. Stops early once the bound is at
        most ``target`` (the box holds nothing better than that) or after ``deadline``
        (``time.perf_counter()``); the first step is sized as if the bound could reach ``target``."""
        tangent = start.tangent
        scale = np.append(self.limits, min_sum_log_width(tangent, self.rho0))

        def multipliers(at: np.ndarray) -> Multipliers:
            return Multipliers(at[:-1] / scale[:-1], float(at[-1] / scale[-1]), tangent)

        center = current = np.append(start.costs, start.rho) * scale
        points: list[dict[str, int]] = []
        cuts: list[tuple[np.ndarray, float, np.ndarray]] = []
        best, weight = np.inf, 0.0
        for _ in range(iterations):
            value, point = self.value(box, multipliers(current))
            if not point:
                return Relaxed(-np.inf, multipliers(current), points)
            points.append(point)
            costs, log_width, layers = self._totals(point)
            tangent_slack = log_width - min_sum_log_width(tangent, self.rho0)
            tangent_slack -= min_sum_log_width_slope(tangent, self.rho0) * (layers - tangent)
            gradient = np.append(1.0 - costs / self.limits, tangent_slack / scale[-1])
            cuts = [*cuts[1 - BUNDLE :], (current, value, gradient)]
            if value < best:
                center, best, weight = current, value, 2.0 * weight
            else:
                weight /= 2.0
            if best <= target or time.perf_counter() > deadline:
                break
            if not weight:
                weight = (value - target) / max(float(gradient @ gradient), 1e-12)
            current = _proximal_step(cuts, center, weight)
        return Relaxed(best, multipliers(center), points)

    def refine(self, box: Box, start: Multipliers, target: float, deadline: float = np.inf) -> Iterator[Relaxed]:
        """The bound of :meth:`bound` over the box, then tightened by splitting it, step by step:
        best first, the piece with the highest bound is cut at the geometric middle of the width
        whose range raises the weights ``W`` most (the last stage's, mostly), and each half is
        bounded from its parent's multipliers (at most its parent's bound). Pieces at most
        ``target`` are closed. After the whole box and after each cut, yields the bound so far
        (the highest open piece's; ``-inf`` when every piece closed) with the designs the DPs of
        that step chose; stops when no piece is open or the highest one cannot be cut (the caller stops
        asking at its time limit)."""
        root = self.bound(box, start, target, deadline=deadline)
        heap = [(-root.bound, 0, box, root.multipliers)] if root.bound > target else []
        yield Relaxed(root.bound if heap else -np.inf, root.multipliers, root.points)
        evaluated = 1
        while heap:
            parent, _, piece, multipliers = heap[0]
            halves = self._halves(piece)
            if halves is None:
                return
            heapq.heappop(heap)
            points = []
            for half in halves:
                relaxed = self.bound(half, multipliers, target, PIECE_ITERATIONS, deadline)
                points += relaxed.points
                evaluated += 1
                if relaxed.bound > target:
                    heapq.heappush(heap, (max(-relaxed.bound, parent), evaluated, half, relaxed.multipliers))
            yield Relaxed(-heap[0][0] if heap else -np.inf, root.multipliers, points)

    def _halves(self, box: Box) -> tuple[Box, Box] | None:
        """The box cut in two at the geometric middle of the stem or stage width whose range raises
        the weights most (``None`` when none has a range that does)."""
        top = self.weights(box).sum()
        gains = {}
        for name in ["stem", *(f"width{s}" for s in range(1, self.m + 1))]:
            low, high = box[name]
            if high > low:
                gains[name] = top - self.weights({**box, name: (low, low)}).sum()
        if not gains or max(gains.values()) <= 0:
            return None
        name = max(gains, key=gains.__getitem__)
        low, high = box[name]
        grid = self.grids[name]
        middle = int(np.searchsorted(grid, np.sqrt(grid[low] * grid[high])))
        middle = min(max(middle, low + 1), high)
        return {**box, name: (low, middle - 1)}, {**box, name: (middle, high)}

    def _totals(self, point: dict[str, int]) -> tuple[np.ndarray, float, float]:
        """Costs, sum of log-widths and layer count of one design."""
        totals = self.evaluate({name: np.array([i]) for name, i in point.items()}).totals
        costs = np.array([float(totals[name][0]) for name in self.costs])
        return costs, float(totals["log_width"][0]), float(totals["layers"][0])


def _proximal_step(cuts: list[tuple[np.ndarray, float, np.ndarray]], center: np.ndarray, weight: float) -> np.ndarray:
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
    return np.maximum(center - weight * gradients.T @ mix, 0.0)


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


def _restrict(factor: Factor, axis: str, start: int, stop: int) -> Factor:
    own, values = factor
    if axis not in own:
        return factor
    ranges = tuple(slice(start, stop) if a == axis else slice(None) for a in own)
    return own, values[ranges]


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
    some entry of the chunk allows."""
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
    single = [(own, values.astype(np.float32)) for own, values in reading]
    result = np.full(tuple(sizes[a] for a in axes), -np.inf)
    step = max(1, CHUNK // int(np.prod([sizes[a] for a in (*axes[1:], variable)])))
    for start in range(0, sizes[lead], step):
        allowed = np.flatnonzero(live[lead][start : start + step].any(0))
        if len(allowed):
            part = [
                _restrict(_restrict(f, lead, start, start + step), variable, allowed[0], allowed[-1] + 1)
                for f in single
            ]
            result[start : start + step] = _dense(part, (variable, *axes)).max(0)
    return [*others, (axes, result + _rounding(reading))], elimination


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
