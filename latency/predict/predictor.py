"""Predicting op, layer and network latency from a profile, for any shape.

Model, per *group* of ops (base kind, kernel, stride; convs reading fewer than 8 channels,
i.e. images, form groups of their own per input width):

* **Work model** ``W = t0 + a * MACs_q + b * elements``, fitted per op kind by non-negative
  least squares on relative error. ``MACs_q`` counts multiply-adds with channel counts rounded
  up to the GPU tile (:data:`TILE`), ``elements`` the feature-map elements read and written
  (``designer.core.layers.Layer.activations``), both for the whole batch. It carries the
  piecewise-linear dependence on work and bytes, with its steps at tile sizes, and is what
  shapes beyond the measured grid extrapolate by.
* **Residual grid** ``log(latency / W)`` on the tensor grid of the group's measured
  (kind variant, ``log cin/cout``, ``log cout``, ``log res``) values, completed where not
  measured by robust local separable estimates (:mod:`latency.predict.completion`), interpolated
  multilinearly in between and held constant outside.

* **Tensor-core steps**: fp16 / bf16 / tf32 convs on GPU backends pad channels to a tile
  (:data:`SNAP_TILE`); a count between measured points is priced as the next measured count
  within its tile (how large the steps are: ``benchmarks/channel_steps.py``, docs/RESULTS.md,
  'Latency tables'). Off tensor cores this does harm: on the V100 FP32 tables it lowers the
  share of held-out widths predicted within 10 % (``benchmarks/predictor_ablation.py``; same
  section).
* **Depthwise convs past 32-bit indexing**: a depthwise conv whose input holds
  :data:`INDEX_LIMIT` elements or more (over the whole batch) runs about ten times slower than
  one just below (PyTorch's 64-bit-index path; H200 fp32, 3x3 stride 2 at 112 px and batch 256:
  640 channels 4.9 ms, 768 48.5 ms). Such entries form groups of their own, so nothing is
  interpolated across the cliff; where a profile has none, the regular group prices them.
* **Misaligned convs**: on GPU backends, channel counts that are odd multiples of 8 (above
  64) run at their own speed (on tensor cores slower still; how much slower than the aligned
  model says: ``benchmarks/misaligned_slowdown.py``, docs/RESULTS.md, 'Latency tables'). They
  are left out of the grid above; the median of measured / predicted over the profile's
  misaligned entries (the grid's alignment probes, per kernel and stride) scales their
  prediction, and a measured one is returned as measured.

Ops a profile lacks are priced from the nearest thing it has: a missing kind variant from
its sibling (activation first, then the residual add), a missing kernel or stride from the
nearest measured one of the same kind scaled by the work model, and kinds it has no entries
of at all (SE, pooling and the classifier in the imported V100 tables, which hold convs only)
by a roofline fitted to the whole profile: ``t0 + MACs / R + elements / B``, with ``t0`` and
the memory rate ``B`` fitted on its memory-bound depthwise entries where it has them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from designer.core.errors import DesignerError
from designer.core.layers import Layer
from designer.core.spec import ArchSpec
from designer.core.structure import arch_layers
from latency.predict.completion import complete, interpolate
from latency.predict.ops import DW_KINDS, KINDS, OpKey, OpQuery, base_kind, layer_op, op_layer
from latency.predict.table import GPU_BACKENDS, LatencyTable, on_tensor_cores

TILE = 8
"""Channel counts are rounded up to a multiple of this in the work model's MACs."""
NARROW = 8
"""Convs with fewer input channels than this (images) form a group per input width."""
RATIO_BASES = ("conv", "se", "linear")
"""Bases whose ``cin / cout`` is an axis of their grid (depthwise and pools have one width)."""

SNAP_TILE = 64
"""Tensor-core channel tile: a conv whose channel count lies in a tile above its last measured
point runs (about) as fast as the next measured count in that tile, not as the interpolation
from below says (cuDNN pads to the tile; ``benchmarks/channel_steps.py`` measures the steps)."""
ALIGNMENT = 16
"""Convs with a channel count above :data:`ALIGNED_BELOW` that is an odd multiple of
``ALIGNMENT / 2`` are *misaligned* (below it they are memory-bound and fit the grid)."""
ALIGNED_BELOW = 64
INDEX_LIMIT = 2**31
"""Input elements (whole batch) from which a depthwise conv takes the slow 64-bit-index path."""
LARGE_INDEX = "_int64"
"""Suffix of the base of the groups of depthwise convs past :data:`INDEX_LIMIT`."""
MIN_PROBES = 3
"""Misaligned entries needed to fit a slowdown factor for one kernel and stride."""

GroupKey = tuple[str, int, int, int]


def _tile(channels: np.ndarray) -> np.ndarray:
    return np.where(channels >= NARROW, np.ceil(channels / TILE - 1e-6) * TILE, channels)


def misaligned(channels: Any) -> np.ndarray:
    """Channel counts above ``ALIGNED_BELOW`` that are odd multiples of ``ALIGNMENT / 2`` (72, 88, 520, ...)."""
    channels = np.asarray(channels)
    return (channels > ALIGNED_BELOW) & (channels % ALIGNMENT == ALIGNMENT // 2)


def past_index_limit(kind: str, cin: Any, res: Any, batch: int) -> np.ndarray:
    """Whether depthwise convs of ``cin`` channels at ``res`` px read :data:`INDEX_LIMIT` elements or more."""
    cin, res = np.asarray(cin, dtype=np.float64), np.asarray(res, dtype=np.float64)
    return (kind in DW_KINDS) & (batch * cin * res * res >= INDEX_LIMIT)


def _misaligned_op(key: OpKey) -> bool:
    return base_kind(key.kind) == "conv" and bool(misaligned(key.cin) | misaligned(key.cout))


def snap_up(channels: np.ndarray, measured: np.ndarray, tile: int) -> np.ndarray:
    """Each channel count raised to the next ``measured`` one within its tile of ``tile``
    channels, where there is one; unchanged otherwise (and where it is measured)."""
    index = np.searchsorted(measured, channels, "left")
    above = measured[np.minimum(index, len(measured) - 1)]
    band_top = np.ceil(channels / tile - 1e-9) * tile
    return np.where((index < len(measured)) & (above <= band_top), above, channels)


def work_features(kind: str, cin: Any, res: Any, cout: Any, kernel: int, stride: int, batch: int) -> np.ndarray:
    """``[1, MACs_q, elements]`` for the whole batch, stacked on the last axis."""
    cin, res, cout = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (cin, res, cout)))
    tiled = op_layer(kind, _tile(cin), res, _tile(cout), kernel, stride)
    elements = op_layer(kind, cin, res, cout, kernel, stride).activations
    macs = np.broadcast_to(np.asarray(tiled.macs, dtype=np.float64), cin.shape)
    return np.stack([np.ones(cin.shape), batch * macs, batch * np.broadcast_to(elements, cin.shape)], -1)


def _fit_work(features: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """Non-negative ``[t0, a, b]`` minimising the relative error of ``features @ c`` to ``ms``."""
    from scipy.optimize import nnls  # only when fitting: a cached fit skips importing SciPy

    rows = features / ms[:, None]
    scale = np.maximum(rows.max(0), 1e-30)
    coefficients, _ = nnls(rows / scale, np.ones(len(ms)))
    coefficients = coefficients / scale
    if not np.any(coefficients > 0):
        coefficients[0] = float(np.median(ms))
    return coefficients


def _work(features: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    return np.maximum(features @ coefficients, 1e-9)


def _coordinates(base: str, narrow: int, cin: np.ndarray, res: np.ndarray, cout: np.ndarray) -> list[np.ndarray]:
    ratio = np.log(cin / cout) if base in RATIO_BASES and not narrow else np.zeros(cin.shape)
    return [np.round(ratio, 9), np.round(np.log(cout), 9), np.round(np.log(res), 9)]


@dataclass
class _Group:
    """The fitted model of one group: per-variant work models and the residual grid."""

    variants: tuple[str, ...]
    work: dict[str, np.ndarray]
    axes: list[np.ndarray]
    residual: np.ndarray
    channels: np.ndarray
    """The channel counts measured in this group (inputs and outputs), sorted."""

    def variant(self, kind: str) -> str:
        """``kind`` or its nearest measured sibling (activation first, then the add)."""
        if kind in self.variants:
            return kind
        act, stem = kind.endswith("_act"), kind.removesuffix("_act")
        other = {"conv": "conv_add", "conv_add": "conv"}.get(stem, stem)
        for name, with_act in ((stem, not act), (other, act), (other, not act)):
            if name + ("_act" if with_act else "") in self.variants:
                return name + ("_act" if with_act else "")
        return self.variants[0]


def _op_codes(cin: Any, res: Any, cout: Any) -> np.ndarray:
    """One integer per ``(cin, res, cout)``, for looking ops up by value."""
    cin, res, cout = (np.asarray(v, dtype=np.int64) for v in (cin, res, cout))
    return (cin * 100_000 + res) * 100_000 + cout


def _overwrite(result: np.ndarray, query: OpQuery, codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``result`` with the ops of ``query`` found among the sorted ``codes`` set to their ``values``."""
    wanted = _op_codes(query.cin, query.res, query.cout)
    result = np.array(np.broadcast_to(result, wanted.shape), dtype=np.float64)
    position = np.minimum(np.searchsorted(codes, wanted), len(codes) - 1)
    hit = codes[position] == wanted
    result[hit] = values[position[hit]]
    return result


class Predictor:
    """Latency of ops, layers and networks at one batch, fitted to a :class:`LatencyTable`."""

    def __init__(self, table: LatencyTable) -> None:
        if not table.entries:
            raise DesignerError(f"profile {table.name} has no entries; measure it again with `designer profile`")
        self.table = table
        self.batch = table.batch
        self.backend, self.precision, self.device = table.backend, table.precision, table.gpu
        self.name = table.name
        self.snap_tile = SNAP_TILE if on_tensor_cores(table.backend, table.precision) else 0
        gpu = table.backend in GPU_BACKENDS
        probes = {key: ms for key, ms in table.entries.items() if gpu and _misaligned_op(key)}
        if len(probes) == len(table.entries):  # nothing aligned to fit the grid on: they are the grid
            probes = {}
        aligned = {key: ms for key, ms in table.entries.items() if key not in probes}
        rows: dict[GroupKey, list[tuple[OpKey, float]]] = defaultdict(list)
        for key, ms in aligned.items():
            rows[self._group_key(key)].append((key, ms))
        self.groups = {group: self._fit_group(group, items) for group, items in rows.items()}
        self.roofline = self._fit_roofline()
        self.slowdown: dict[tuple[int, int] | None, float] = {}
        self.exact: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}
        """Measured misaligned ops by (kind, kernel, stride): sorted op codes and their latency."""
        if probes:
            self._fit_slowdown(probes)

    # --- fitting --------------------------------------------------------------------------------
    def _group_key(self, key: OpKey) -> GroupKey:
        base = base_kind(key.kind)
        if past_index_limit(key.kind, key.cin, key.res, self.batch):
            base += LARGE_INDEX
        return (base, key.kernel, key.stride, key.cin if base == "conv" and key.cin < NARROW else 0)

    def _fit_group(self, group: GroupKey, items: list[tuple[OpKey, float]]) -> _Group:
        base, kernel, stride, narrow = group
        variants = tuple(kind for kind in KINDS if any(key.kind == kind for key, _ in items))
        fields = np.array([(variants.index(k.kind), k.cin, k.res, k.cout) for k, _ in items], dtype=np.float64)
        ms = np.array([ms for _, ms in items])
        variant, cin, res, cout = fields.T
        work = {}
        for index, kind in enumerate(variants):
            rows = variant == index
            features = work_features(kind, cin[rows], res[rows], cout[rows], kernel, stride, self.batch)
            work[kind] = _fit_work(features, ms[rows])
        coords = _coordinates(base, narrow, cin, res, cout)
        axes = [np.unique(c) for c in coords]
        nodes = (variant.astype(np.int64), *(np.searchsorted(axis, c) for axis, c in zip(axes, coords)))
        shape = (len(variants), *(len(axis) for axis in axes))
        values, known = np.zeros(shape), np.zeros(shape, dtype=bool)
        values[nodes] = np.log(ms)
        known[nodes] = True
        ratio, log_cout, log_res = np.meshgrid(*axes, indexing="ij")
        node_cout, node_res = np.round(np.exp(log_cout), 6), np.round(np.exp(log_res), 6)
        node_cin = np.full(ratio.shape, float(narrow)) if narrow else np.round(np.exp(ratio) * node_cout, 6)
        base_grid = np.stack(
            [
                np.log(
                    _work(work_features(kind, node_cin, node_res, node_cout, kernel, stride, self.batch), work[kind])
                )
                for kind in variants
            ]
        )
        residual = complete(values, known, [None, *axes], base_grid)
        return _Group(variants, work, axes, residual, np.unique(np.concatenate([cin, cout])))

    def _fit_slowdown(self, probes: dict[OpKey, float]) -> None:
        """How much slower misaligned convs run than the aligned model says: the median ratio
        per kernel and stride (``None``: over all of them); they are then known exactly."""
        keys = sorted(probes)
        ratios = np.array([probes[key] for key in keys]) / predict_keys(self, keys)
        by_shape: dict[tuple[int, int] | None, list[float]] = defaultdict(list)
        for key, ratio in zip(keys, ratios):
            by_shape[(key.kernel, key.stride)].append(float(ratio))
            by_shape[None].append(float(ratio))
        self.slowdown = {shape: float(np.median(r)) for shape, r in by_shape.items() if len(r) >= MIN_PROBES}
        by_op: dict[tuple[str, int, int], list[OpKey]] = defaultdict(list)
        for key in keys:
            by_op[(key.kind, key.kernel, key.stride)].append(key)
        for op, members in by_op.items():
            codes = _op_codes(*np.array([(k.cin, k.res, k.cout) for k in members]).T)
            order = np.argsort(codes)
            self.exact[op] = (codes[order], np.array([probes[k] for k in members])[order])

    def _fit_roofline(self) -> np.ndarray:
        by_op: dict[tuple[str, int, int], list[tuple[OpKey, float]]] = defaultdict(list)
        for key, latency in self.table.entries.items():
            if not past_index_limit(key.kind, key.cin, key.res, self.batch):
                by_op[(key.kind, key.kernel, key.stride)].append((key, latency))
        features: list[np.ndarray] = []
        latencies: list[np.ndarray] = []
        memory_bound: list[np.ndarray] = []
        for (kind, kernel, stride), items in by_op.items():
            cin, res, cout = np.array([(k.cin, k.res, k.cout) for k, _ in items], dtype=np.float64).T
            features.append(work_features(kind, cin, res, cout, kernel, stride, self.batch))
            latencies.append(np.array([value for _, value in items]))
            memory_bound.append(np.full(len(items), kind in DW_KINDS))
        stacked, times, memory = np.concatenate(features), np.concatenate(latencies), np.concatenate(memory_bound)
        roofline = _fit_work(stacked, times)
        if memory.sum() >= 2:
            roofline[[0, 2]] = _fit_work(stacked[memory][:, [0, 2]], times[memory])
        return roofline

    # --- prediction -----------------------------------------------------------------------------
    def predict(self, query: OpQuery) -> np.ndarray:
        """Latency (ms, whole batch) of each op of ``query``."""
        base = base_kind(query.kind)
        narrow = np.where((query.cin < NARROW) & (base == "conv"), query.cin, 0)
        large = np.broadcast_to(past_index_limit(query.kind, query.cin, query.res, self.batch), query.cin.shape)
        result = np.empty(query.cin.shape)
        split = 2 * narrow + large  # one pass per image width and side of the index limit
        for code in np.unique(split):
            rows = split == code
            width, past = int(code) // 2, bool(code % 2)
            group_key = (base + LARGE_INDEX if past else base, query.kernel, query.stride, width)
            for fallback in ((base, query.kernel, query.stride, width), (base, query.kernel, query.stride, 0)):
                group_key = group_key if group_key in self.groups else fallback
            result[rows] = self._predict_group(group_key, query, query.cin[rows], query.res[rows], query.cout[rows])
        if base == "conv" and self.slowdown:
            factor = self.slowdown.get((query.kernel, query.stride), self.slowdown.get(None, 1.0))
            result = np.where(misaligned(query.cin) | misaligned(query.cout), result * factor, result)
        known = self.exact.get((query.kind, query.kernel, query.stride))
        if known is not None:
            result = _overwrite(result, query, *known)
        return result

    def _predict_group(self, group_key: GroupKey, query: OpQuery, cin: Any, res: Any, cout: Any) -> np.ndarray:
        features = work_features(query.kind, cin, res, cout, query.kernel, query.stride, self.batch)
        if group_key not in self.groups:
            nearest = self._nearest_group(group_key)
            if nearest is None:
                return _work(features, self.roofline)
            group = self.groups[nearest]
            kind = group.variant(query.kind)
            measured = self._evaluate(nearest, kind, cin, res, cout)
            scale = _work(features, group.work[kind]) / _work(
                work_features(kind, cin, res, cout, nearest[1], nearest[2], self.batch), group.work[kind]
            )
            return measured * scale
        return self._evaluate(group_key, self.groups[group_key].variant(query.kind), cin, res, cout)

    def _evaluate(self, group_key: GroupKey, kind: str, cin: Any, res: Any, cout: Any) -> np.ndarray:
        group = self.groups[group_key]
        base, kernel, stride, narrow = group_key
        cin, res, cout = (np.asarray(v, dtype=np.float64) for v in (cin, res, cout))
        if self.snap_tile and base == "conv" and not narrow:
            cin, cout = snap_up(cin, group.channels, self.snap_tile), snap_up(cout, group.channels, self.snap_tile)
        features = work_features(kind, cin, res, cout, kernel, stride, self.batch)
        coords = _coordinates(base, narrow, cin, res, cout)
        table = group.residual[group.variants.index(kind)]
        return _work(features, group.work[kind]) * np.exp(interpolate(table, group.axes, coords))

    def _nearest_group(self, group_key: GroupKey) -> GroupKey | None:
        base, kernel, stride, narrow = group_key
        candidates = [g for g in self.groups if g[0] == base and (g[3] > 0) == (narrow > 0)]
        candidates = candidates or [g for g in self.groups if g[0] == base]
        if not candidates:
            return None
        return min(candidates, key=lambda g: (abs(g[1] - kernel) + 2 * abs(g[2] - stride), abs(g[3] - narrow)))

    def layer_latency(self, layer: Layer) -> float | np.ndarray:
        """Latency (ms, whole batch) of a layer whose fields may be arrays of any shape."""
        query = layer_op(layer)
        value = self.predict(query)
        if layer.present is not True:
            value = value * np.asarray(layer.present, dtype=np.float64)
        return float(value) if value.ndim == 0 else value

    def network_latency(self, spec: ArchSpec) -> float:
        return float(sum(float(np.sum(self.layer_latency(layer))) for layer in arch_layers(spec)))

    def throughput(self, spec: ArchSpec) -> float:
        """Images per second: ``batch / latency``."""
        return 1000.0 * self.batch / self.network_latency(spec)


def predict_keys(predictor: Predictor, keys: Sequence[OpKey]) -> np.ndarray:
    """Predicted latency of each key, one vectorised call per kind, kernel and stride."""
    rows: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    for position, key in enumerate(keys):
        rows[(key.kind, key.kernel, key.stride)].append(position)
    result = np.empty(len(keys))
    for (kind, kernel, stride), positions in rows.items():
        fields = np.array([(keys[i].cin, keys[i].res, keys[i].cout) for i in positions], dtype=np.int64)
        result[positions] = predictor.predict(OpQuery(kind, fields[:, 0], fields[:, 1], fields[:, 2], kernel, stride))
    return result
