"""Completing a partly measured grid of log-latencies, and interpolating in it.

Measured ops of one group lie on a tensor grid (every distinct value of each axis); most
nodes are measured, some are not (held out, failed, never sampled). Latency is close to
*separable* locally: the efficiency of a conv factors into a part that depends on the output
channels (tile quantisation of N), one that depends on the resolution (of M = batch x pixels,
Winograd tiles) and so on. So a missing node ``x`` is estimated from each *parallelogram* of
measured nodes around it, ``v(x) ~ v(x + s e_i) + v(x + t e_j) - v(x + s e_i + t e_j)``
(exact when ``v`` is additive in axes ``i`` and ``j``), over every pair of axes and the
nearest shifts, and from each *line* through it, interpolating between the nearest measured
nodes on either side along one axis. The estimates are combined by their weighted median,
weighted by how close the nodes they read are (a robust vote: a step in one axis spoils only
the estimates that cross it). The lines keep a step that only one resolution has from being
carried to another: the fp32 H200 table times 5x5 convs at every multiple of 8 to 1,024
channels at 7 px, where latency jumps (512 channels 1.96 ms, 528 channels 5.18 ms); every
parallelogram that reached a 528-channel conv at 14 px crossed that jump, and a network holding
one, measured at 29.4 ms, was priced 33 % high (``docs/h200/runs/validate-fp32-seed5.json``,
random-basic-12), although that conv's measured neighbours at 14 px are 6.7 ms (512 channels)
and 8.4 ms (576). Nodes that no estimate
reaches take the inverse-distance-weighted mean of the residuals of the :data:`NEAREST` measured
nodes nearest them (so latency far from what was measured scales with work). Averaging filled
neighbours outward instead carried one odd estimate across a whole sparse axis: on the H200 fp16
profile it priced a 16->88 1x1 conv at 3.4x its work model, and random bottleneck networks 3-23 %
high (docs/RESULTS.md, 'Latency tables').

The estimates are made on log-latencies or on residuals (see :func:`complete`); what is
stored and interpolated is the residual
``log(latency / work model)``: multilinear in log coordinates between nodes, and constant
beyond the grid's ends (held constant too when filling nodes no estimate reaches).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import numpy as np

MAX_SHIFT = 2
"""Parallelograms use nodes up to this many grid steps away along each axis."""
CATEGORY_DISTANCE = 0.3
"""Distance of a step along a categorical axis (op variant), in log-coordinate units."""
NEAREST = 8
"""Measured nodes whose residuals fill a node that no estimate reaches."""


def _shift(array: np.ndarray, axis: int, step: int, fill: float | bool) -> np.ndarray:
    """``out[x] = array[x + step e_axis]`` where that exists, ``fill`` elsewhere."""
    out = np.full_like(array, fill)
    src: list[slice] = [slice(None)] * array.ndim
    dst: list[slice] = [slice(None)] * array.ndim
    if step > 0:
        src[axis], dst[axis] = slice(step, None), slice(None, -step)
    else:
        src[axis], dst[axis] = slice(None, step), slice(-step, None)
    out[tuple(dst)] = array[tuple(src)]
    return out


def _step_distance(coords: np.ndarray | None, axis: int, ndim: int, step: int) -> np.ndarray:
    """Distance from each node to the node ``step`` away along ``axis`` (broadcastable)."""
    shape = [1] * ndim
    if coords is None:
        return np.full(shape, CATEGORY_DISTANCE)
    index = np.clip(np.arange(len(coords)) + step, 0, len(coords) - 1)
    shape[axis] = len(coords)
    return np.abs(coords[index] - coords).reshape(shape)


def _weighted_median(estimates: Sequence[np.ndarray], weights: Sequence[np.ndarray]) -> np.ndarray:
    """Each node's weighted median of its estimates (one array per estimate, all of the grid's shape).

    Only estimates of positive weight can be the median (the first whose cumulative weight
    reaches half the total has weight), and most nodes have few of them, so each node's are
    gathered into a short row first (``inf`` with no weight pads it): the same median as over
    all of them, without sorting a row per estimate source at every node."""
    shape = estimates[0].shape
    positive = [(weight > 0).ravel() for weight in weights]
    count = np.zeros(int(np.prod(shape)), dtype=np.int64)
    for mask in positive:
        count += mask
    width = max(int(count.max(initial=0)), 1)
    gathered = np.full((len(count), width), np.inf)
    gathered_weights = np.zeros((len(count), width))
    filled = np.zeros_like(count)  # each row's next free slot
    for estimate, weight, mask in zip(estimates, weights, positive):
        rows = np.flatnonzero(mask)
        gathered[rows, filled[rows]] = estimate.ravel()[rows]
        gathered_weights[rows, filled[rows]] = weight.ravel()[rows]
        filled[rows] += 1
    order = np.argsort(gathered, axis=-1)
    values = np.take_along_axis(gathered, order, -1)
    cumulative = np.cumsum(np.take_along_axis(gathered_weights, order, -1), axis=-1)
    total = cumulative[..., -1]
    pick = np.argmax(cumulative >= total[..., None] / 2, axis=-1)
    median = np.take_along_axis(values, pick[..., None], -1)[..., 0]
    return np.where(total > 0, median, np.nan).reshape(shape)


def local_estimates(values: np.ndarray, known: np.ndarray, coords: Sequence[np.ndarray | None]) -> np.ndarray:
    """Weighted-median estimate from parallelograms and lines at every node (NaN where none exists)."""
    ndim = values.ndim
    zeroed = np.where(known, values, 0.0)
    estimates, weights = [], []
    for i, j in itertools.combinations(range(ndim), 2):
        steps = [
            [s for s in range(-limit, limit + 1) if s]
            for limit in (_reach(values, coords, i), _reach(values, coords, j))
        ]
        for s in steps[0]:
            v_i, k_i = _shift(zeroed, i, s, 0.0), _shift(known, i, s, False)
            d_i = _step_distance(coords[i], i, ndim, s)
            for t in steps[1]:
                v_j, k_j = _shift(zeroed, j, t, 0.0), _shift(known, j, t, False)
                v_ij, k_ij = _shift(v_i, j, t, 0.0), _shift(k_i, j, t, False)
                distance = d_i + _step_distance(coords[j], j, ndim, t)
                estimates.append(v_i + v_j - v_ij)
                weights.append((k_i & k_j & k_ij) / np.maximum(distance, 1e-9))
    for axis, axis_coords in enumerate(coords):
        if axis_coords is not None:
            estimate, weight = _line_estimate(zeroed, known, axis_coords, axis)
            estimates.append(estimate)
            weights.append(weight)
    if not estimates:
        return np.full(values.shape, np.nan)
    return _weighted_median(estimates, weights)


def _line_estimate(
    values: np.ndarray, known: np.ndarray, coords: np.ndarray, axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation along ``axis`` between the nearest measured nodes below and above each
    node (other nodes excluded), weighted by one over their distance (zero where either is missing)."""
    moved, known_moved = np.moveaxis(values, axis, -1), np.moveaxis(known, axis, -1)
    positions = np.arange(len(coords))
    below = np.maximum.accumulate(np.where(known_moved, positions, -1), axis=-1)
    above = np.minimum.accumulate(np.where(known_moved, positions, len(coords))[..., ::-1], axis=-1)[..., ::-1]
    below = np.concatenate([np.full(below.shape[:-1] + (1,), -1), below[..., :-1]], -1)  # strictly below
    above = np.concatenate([above[..., 1:], np.full(above.shape[:-1] + (1,), len(coords))], -1)  # strictly above
    ok = (below >= 0) & (above < len(coords))
    low, high = np.clip(below, 0, len(coords) - 1), np.clip(above, 0, len(coords) - 1)
    span = np.maximum(coords[high] - coords[low], 1e-9)
    t = np.clip((coords - coords[low]) / span, 0.0, 1.0)
    estimate = (1 - t) * np.take_along_axis(moved, low, -1) + t * np.take_along_axis(moved, high, -1)
    return np.moveaxis(estimate, -1, axis), np.moveaxis(np.where(ok, 1.0 / span, 0.0), -1, axis)


def _reach(values: np.ndarray, coords: Sequence[np.ndarray | None], axis: int) -> int:
    size = values.shape[axis]
    return size - 1 if coords[axis] is None else min(MAX_SHIFT, size - 1)


def complete(
    values: np.ndarray, known: np.ndarray, coords: Sequence[np.ndarray | None], base: np.ndarray
) -> np.ndarray:
    """The residual ``values - base`` at every node: measured where known, estimated elsewhere.

    ``values`` are log-latencies (read where ``known``), ``base`` the log work model at every
    node; ``coords[a]`` holds axis ``a``'s sorted coordinates, or ``None`` for a categorical axis.
    Parallelograms are formed on the log-latencies and on the residuals alike, and the grid
    takes whichever estimates its own measured nodes better (each node's estimate never uses
    the node itself, so this is a leave-one-out comparison).
    """
    if not known.any():
        raise ValueError("nothing measured to complete from")
    candidates = [
        local_estimates(values, known, coords),
        local_estimates(values - base, known, coords) + base,
    ]
    estimate = min(candidates, key=lambda e: _loo_error(e, values, known))
    filled = np.where(known, values, estimate) - base
    unreached = ~known & ~np.isfinite(estimate)
    if unreached.any():
        filled[unreached] = _nearest_mean(filled, known, coords, unreached)  # reads the measured nodes only
    return filled


def _nearest_mean(
    values: np.ndarray, known: np.ndarray, coords: Sequence[np.ndarray | None], wanted: np.ndarray
) -> np.ndarray:
    """At each ``wanted`` node, the inverse-square-distance-weighted mean of ``values`` at the
    :data:`NEAREST` known nodes nearest it (categorical axes step :data:`CATEGORY_DISTANCE`)."""
    from scipy.spatial import cKDTree  # only when fitting, as in the predictor

    axes = [np.arange(size) * CATEGORY_DISTANCE if c is None else c for size, c in zip(values.shape, coords)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
    count = min(NEAREST, int(known.sum()))
    distance, index = cKDTree(nodes[known]).query(nodes[wanted], k=[*range(1, count + 1)])
    weights = 1.0 / np.maximum(distance, 1e-9) ** 2
    return np.sum(weights * values[known][index], axis=1) / np.sum(weights, axis=1)


def _loo_error(estimate: np.ndarray, values: np.ndarray, known: np.ndarray) -> float:
    """Median absolute log error of the estimates at measured nodes (infinite if none)."""
    checked = known & np.isfinite(estimate)
    return float(np.median(np.abs(estimate - values)[checked])) if checked.any() else np.inf


def interpolate(grid: np.ndarray, coords: Sequence[np.ndarray], points: Sequence[np.ndarray]) -> np.ndarray:
    """Multilinear interpolation of ``grid`` at ``points`` (one array per axis), clamped."""
    corners: list[list[tuple[np.ndarray, np.ndarray]]] = []
    for axis_coords, x in zip(coords, points):
        if len(axis_coords) == 1:
            corners.append([(np.zeros(x.shape, dtype=np.int64), np.ones(x.shape))])
            continue
        low = np.clip(np.searchsorted(axis_coords, x, side="right") - 1, 0, len(axis_coords) - 2)
        span = axis_coords[low + 1] - axis_coords[low]
        t = np.clip((x - axis_coords[low]) / span, 0.0, 1.0)
        corners.append([(low, 1.0 - t), (low + 1, t)])
    result = np.zeros(np.broadcast_shapes(*(x.shape for x in points)))
    for combo in itertools.product(*corners):
        index = tuple(position for position, _ in combo)
        weight = functools.reduce(np.multiply, (w for _, w in combo))
        result = result + weight * grid[index]
    return result
