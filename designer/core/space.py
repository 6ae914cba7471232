"""The design space the solver chooses from, and vectorised evaluation of candidates in it.

A design is a stride-2 stem conv followed by body stages whose strides are a parameter
(``DesignRequest.strides``; the ResNet families default to the published DeepMAD layout
2, 2, 2, 1, 2). The decision variables are the MP's: the stem width and, for each body stage
``s``, its output width ``width{s}``, its depth ``depth{s}`` (blocks), its kernel ``kernel{s}``
(from the request's kernel set, when it has more than one) and its inner width ``inner{s}``
(bottleneck or hidden width, when the family has one and the request gives a ratio range rather
than a fixed ratio). :meth:`SearchSpace.pairs` lists the linear orderings that link them:

* widths never decrease, and across a stride-1 stage they grow: such a stage starts with a
  projection shortcut (or, in an inverted residual, without its identity), which is what makes
  it a stage rather than more blocks of the previous one;
* each stage's ratio of output to inner width lies in the request's range.

The first body stage may be capped in depth (``first_depth``). A stride-1 stage keeps the
resolution, so it belongs to the entropy stage of the stages before it (entropy is grouped by
down-sampling stage, as for specs: :mod:`designer.core.entropy`).

Every variable takes values on a sorted grid, and a larger value never lowers entropy and
never lowers cost. Entropy is concave and costs are convex along each variable, and both have
increasing differences between any two variables: the solver's bounds rest on these facts.
(An inverted residual's expansion conv is kept in the space's blocks wherever the ratio range
guarantees it exists, so that presence never flips.) :meth:`SearchSpace.evaluate` prices many
designs at once by passing arrays through the same block layer lists that price a single spec
(:mod:`designer.core.blocks`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeAlias

import numpy as np

from designer.core.blocks import BlockShape, get_family
from designer.core.entropy import design_objective, stage_entropy
from designer.core.errors import ParameterError
from designer.core.layers import Layer, out_res
from designer.core.request import DesignRequest
from designer.core.spec import ArchSpec, StageSpec, StemSpec
from designer.core.structure import head_block, stem_block

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Pair:
    """``value(upper) >= factor * value(lower) + offset``: an ordering of two variables."""

    lower: str
    upper: str
    factor: float = 1.0
    offset: float = 0.0

    def holds(self, lower: Any, upper: Any) -> Any:
        return np.asarray(upper) >= self.factor * np.asarray(lower) + self.offset - TOLERANCE


class SearchSpace:
    """The grids, orderings and evaluation of the designs of a :class:`DesignRequest`."""

    def __init__(self, request: DesignRequest) -> None:
        self.request = request
        self.family = get_family(request.family)
        self.resolution, self.num_classes, self.in_channels = (
            request.resolution,
            request.num_classes,
            request.in_channels,
        )
        self.strides = request.body_strides
        self.kernels = request.kernels
        self.ratio_range = request.ratio_range
        self.ratio = request.expansion or self.family.ratio or 1
        self.head_width = request.head_width or self.family.head_width
        self.se = request.se and self.family.has_se
        self.se_style = request.se_style
        self.alpha, self.penalty = request.weights, request.penalty
        self.max_depth = request.max_depth
        first = request.first_depth or self.family.first_depth
        self.first_depth = min(first, self.max_depth) if first else self.max_depth
        step = request.width_step
        multiple = step * (1 if self.ratio_range else self.family.width_multiple(self.ratio))
        self.widths = tuple(range(multiple, request.max_width + 1, multiple))
        self.stem_widths = tuple(
            w for w in range(step, request.max_stem_width + 1, step) if w >= request.min_stem_width
        )
        self.inners: tuple[int, ...] = ()
        if self.ratio_range:
            low, high = self.ratio_range
            widest = request.max_width / low if self.family.inner_below_width else request.max_width * high
            self.inners = tuple(range(step, int(widest + TOLERANCE) + 1, step))
        if not self.widths:
            raise ParameterError(f"the width grid is empty: raise {{max_width}} to at least {multiple}")
        if not self.stem_widths:
            raise ParameterError(
                "no stem width is a multiple of {width_step} within {min_stem_width}..{max_stem_width}"
            )
        if min(self.stage_resolutions) < 1 or self.stage_resolutions[0] == self.resolution:
            raise ParameterError(
                f"{self.entropy_stages} down-sampling stages do not fit resolution {self.resolution}; "
                "give fewer {stages} or stride-2 {strides}"
            )
        resolutions = [self.stage_resolutions[0]] + [
            self.stage_resolutions[s] for s in range(1, self.body_stages + 1) if self.strides[s - 1] == 2
        ]
        if any(a <= b for a, b in zip(resolutions, resolutions[1:])):
            raise ParameterError(
                f"{self.entropy_stages} down-sampling stages do not fit resolution {self.resolution}; "
                "give fewer {stages} or stride-2 {strides}"
            )

    @classmethod
    def of(cls, family: str, resolution: int = 224, **parameters: Any) -> SearchSpace:
        """The space of ``family`` with the request's other parameters (defaults unless given)."""
        return cls(DesignRequest(family=family, resolution=resolution, **parameters))

    # --- shape of the space -------------------------------------------------------------
    @property
    def body_stages(self) -> int:
        return len(self.strides)

    @property
    def entropy_stages(self) -> int:
        return 1 + sum(stride == 2 for stride in self.strides)

    @property
    def stage_resolutions(self) -> list[int]:
        """Output resolution of the stem and of each body stage."""
        res = [out_res(self.resolution, 2)]
        for stride in self.strides:
            res.append(out_res(res[-1], stride))
        return res

    @property
    def activation(self) -> str:
        return self.family.activation

    def has_inner(self) -> bool:
        return bool(self.ratio_range)

    def has_kernel(self) -> bool:
        return len(self.kernels) > 1

    def grids(self) -> dict[str, np.ndarray]:
        """Every decision variable and its sorted grid of values (``width{m}`` included)."""
        grids: dict[str, np.ndarray] = {"stem": np.array(self.stem_widths)}
        for s in range(1, self.body_stages + 1):
            grids[f"width{s}"] = np.array(self.widths)
            if self.has_inner():
                grids[f"inner{s}"] = np.array(self.inners)
            if self.has_kernel():
                grids[f"kernel{s}"] = np.array(self.kernels)
        for s in range(1, self.body_stages + 1):
            grids[f"depth{s}"] = np.arange(1, (self.first_depth if s == 1 else self.max_depth) + 1)
        return grids

    def entropy_ends(self) -> list[int]:
        """Where each entropy stage ends, in order: after the stem (0) or body stage ``s``, the last
        one and each that the next stage down-samples from."""
        m = self.body_stages
        return [s for s in range(m + 1) if s == m or self.strides[s] == 2]

    def previous(self, s: int) -> str:
        """The variable giving body stage ``s``'s input width."""
        return "stem" if s == 1 else f"width{s - 1}"

    def pairs(self) -> list[Pair]:
        """The orderings the variables must satisfy (see the module docstring)."""
        step = self.request.width_step
        pairs = []
        for s in range(1, self.body_stages + 1):
            grows = step if self.strides[s - 1] == 1 else 0
            pairs.append(Pair(self.previous(s), f"width{s}", 1.0, grows))
            if self.ratio_range:
                low, high = self.ratio_range
                width, inner = f"width{s}", f"inner{s}"
                if self.family.inner_below_width:  # low <= width / inner <= high
                    pairs += [Pair(inner, width, low), Pair(width, inner, 1.0 / high)]
                else:  # low <= inner / width <= high
                    pairs += [Pair(width, inner, low), Pair(inner, width, 1.0 / high)]
        return pairs

    def ordered(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Which designs (arrays of values) satisfy every pair."""
        ok = np.ones(np.broadcast(*values.values()).shape, dtype=bool)
        for pair in self.pairs():
            ok &= pair.holds(values[pair.lower], values[pair.upper])
        return ok

    # --- layers ------------------------------------------------------------------------------
    def stage_shape(self, s: int, cin: Any, width: Any, inner: Any, kernel: Any, first: bool) -> BlockShape:
        """The shape of stage ``s``'s first block (``first``) or of its other blocks."""
        res = self.stage_resolutions
        if self.has_inner():
            fields: dict[str, Any] = {"inner": inner, "expand": True if self.family.uses_expansion else None}
        else:
            fields = self.family.stage_fields(width, self.ratio)
        stride = self.strides[s - 1] if first else 1
        return BlockShape(
            cin if first else width,
            width,
            stride,
            res[s - 1] if first else res[s],
            kernel,
            se=self.se,
            se_style=self.se_style,
            changes=first,
            **fields,
        )

    def stage_layers(self, s: int, cin: Any, width: Any, inner: Any, kernel: Any) -> tuple[list[Layer], list[Layer]]:
        """Layers of the first block and of each further block of body stage ``s`` (1-based)."""
        first = self.family.layers(self.stage_shape(s, cin, width, inner, kernel, True))
        rest = self.family.layers(self.stage_shape(s, cin, width, inner, kernel, False))
        return first, rest

    def stem_layers(self, stem: Any) -> list[Layer]:
        return stem_block(self.in_channels, stem, self.resolution, 3, 2, False)

    def head_layers(self, last: Any) -> list[Layer]:
        """The head fed by the last stage's width: the layers a spec of the space has there."""
        return head_block(last, self.stage_resolutions[-1], self.head_width, self.num_classes)

    def final_channels(self, last: Any) -> Any:
        return self.head_width if self.head_width is not None else last

    def stage_value(self, values: dict[str, Any], name: str, s: int) -> Any:
        """Stage ``s``'s inner width or kernel: a variable's values, or the fixed setting."""
        if name == "kernel":
            return values[f"kernel{s}"] if self.has_kernel() else self.kernels[0]
        return values[f"inner{s}"] if self.has_inner() else None

    # --- evaluation ------------------------------------------------------------------------
    def evaluate(self, values: dict[str, np.ndarray], layer_costs: LayerCosts = None) -> Evaluation:
        """Price designs given as arrays of values (one entry per design)."""
        parts = [self._stage_terms(values, s, layer_costs) for s in range(1, self.body_stages + 1)]
        m = self.body_stages
        return self.assemble(
            Terms.of(self.stem_layers(values["stem"]), layer_costs),
            parts,
            Terms.of(self.head_layers(values[f"width{m}"]), layer_costs),
            [values[f"width{s}"] for s in range(1, m)] + [self.final_channels(values[f"width{m}"])],
            values["stem"],
            [values[f"depth{s}"] for s in range(1, m + 1)],
        )

    def _stage_terms(self, values: dict[str, np.ndarray], s: int, layer_costs: LayerCosts) -> tuple[Terms, Terms]:
        inner = self.stage_value(values, "inner", s)

        def layers(kernel: int, rows: Any) -> tuple[list[Layer], list[Layer]]:
            previous, width = _rows(values[self.previous(s)], rows), _rows(values[f"width{s}"], rows)
            return self.stage_layers(s, previous, width, _rows(inner, rows), kernel)

        return _per_kernel(self.stage_value(values, "kernel", s), layers, layer_costs)

    def assemble(
        self,
        stem: Terms,
        stages: list[tuple[Terms, Terms]],
        head: Terms,
        channels: list[Any],
        stem_channels: Any,
        depths: list[Any],
    ) -> Evaluation:
        """Totals, multi-scale entropy and objective from per-part terms (the one formula).

        ``channels`` are the body stages' output widths, the last one after the head. An entropy
        stage ends at the stem or a body stage that the next stage down-samples from, and at the end.
        """
        res = self.stage_resolutions
        weights = iter(self.alpha)
        ends = self.entropy_ends()
        total = stem
        entropy: Any = 0.0
        if 0 in ends:
            entropy = next(weights) * stage_entropy(res[0], stem_channels, total["log_width"])
        m = len(stages)
        for s, ((first, rest), depth) in enumerate(zip(stages, depths), start=1):
            total = total + first + rest * (np.asarray(depth, dtype=float) - 1)
            if s == m:
                total = total + head
            if s in ends:
                entropy = entropy + next(weights) * stage_entropy(res[s], channels[s - 1], total["log_width"])
        counts = np.stack(np.broadcast_arrays(*depths), -1)
        return Evaluation(entropy, design_objective(entropy, counts, self.penalty), total)

    # --- designs as specs ---------------------------------------------------------------
    def to_spec(self, point: dict[str, float], name: str = "") -> ArchSpec:
        """The spec of one design given as ``{variable: value}``."""
        stages = []
        for s in range(1, self.body_stages + 1):
            width = int(point[f"width{s}"])
            if self.has_inner():
                fields: dict[str, Any] = {"inner": int(point[f"inner{s}"])}
            else:
                fields = self.family.stage_fields(width, self.ratio)
            stages.append(
                StageSpec(
                    block=self.family.name,
                    width=width,
                    depth=int(point[f"depth{s}"]),
                    stride=self.strides[s - 1],
                    kernel=int(self.stage_value(point, "kernel", s)),
                    se=self.se,
                    se_style=self.se_style,
                    **fields,
                )
            )
        return ArchSpec(
            resolution=self.resolution,
            stem=StemSpec(width=int(point["stem"]), kernel=3, stride=2),
            stages=tuple(stages),
            head_width=self.head_width,
            num_classes=self.num_classes,
            in_channels=self.in_channels,
            activation=self.activation,
            name=name,
        )


def _rows(value: Any, rows: Any) -> Any:
    """``value`` at the designs ``rows`` (a scalar or ``None`` as it is)."""
    if rows is None or value is None or np.ndim(value) == 0:
        return value
    return np.asarray(value)[rows]


def _per_kernel(
    kernel: Any, layers: Callable[[Any, Any], tuple[list[Layer], list[Layer]]], costs: Any
) -> tuple[Terms, Terms]:
    """Terms of a stage's first and further blocks for designs whose kernels differ: each kernel's
    designs are priced with it as a plain number (latency tables key on the kernel)."""
    if np.ndim(kernel) == 0:
        first, rest = layers(int(kernel), None)
        return Terms.of(first, costs), Terms.of(rest, costs)
    kernel = np.asarray(kernel)
    result: tuple[Terms, Terms] | None = None
    for value in np.unique(kernel):
        rows = np.flatnonzero(kernel == value)
        first, rest = layers(int(value), rows)
        parts = Terms.of(first, costs).broadcast((len(rows),)), Terms.of(rest, costs).broadcast((len(rows),))
        if result is None:
            names = parts[0].names
            result = (
                Terms(names, np.zeros((len(names), len(kernel)))),
                Terms(names, np.zeros((len(names), len(kernel)))),
            )
        result[0].data[:, rows], result[1].data[:, rows] = parts[0].data, parts[1].data
    assert result is not None
    return result


LayerCosts: TypeAlias = "Sequence[tuple[str, Callable[[Layer], Any]]] | None"


class Terms:
    """Additive totals over a set of layers, stacked in one array (one row per total).

    ``log_width`` and ``layers`` sum the log-widths and count the main layers; ``macs`` and
    ``params`` are the cost model's; any further ``layer_costs`` (name, function of a layer)
    add a total of their own (predicted latency, for instance).
    """

    __slots__ = ("names", "data")

    def __init__(self, names: tuple[str, ...], data: np.ndarray) -> None:
        self.names, self.data = names, data

    @classmethod
    def of(cls, layers: Sequence[Layer], layer_costs: Any = None) -> Terms:
        fields: dict[str, Any] = {"log_width": 0.0, "layers": 0.0, "macs": 0.0, "params": 0.0}
        for name, _ in layer_costs or ():
            fields[name] = 0.0
        for layer in layers:
            fields["macs"] = fields["macs"] + layer.macs
            fields["params"] = fields["params"] + layer.params
            for name, cost in layer_costs or ():
                fields[name] = fields[name] + cost(layer)
            if layer.is_main:
                if layer.present is True:
                    fields["log_width"] = fields["log_width"] + np.log(layer.width)
                    fields["layers"] = fields["layers"] + 1.0
                else:
                    present = np.asarray(layer.present, dtype=float)
                    fields["log_width"] = fields["log_width"] + np.log(layer.width) * present
                    fields["layers"] = fields["layers"] + present
        values = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in fields.values()])
        return cls(tuple(fields), np.stack(values))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[self.names.index(name)]

    def __add__(self, other: Terms) -> Terms:
        return Terms(self.names, self.data + other.data)

    def __mul__(self, factor: Any) -> Terms:
        return Terms(self.names, self.data * factor)

    def take(self, *index: np.ndarray) -> Terms:
        """Gather entries (one index array per table axis) for every total at once."""
        flat = index[0]
        for axis, position in enumerate(index[1:], start=1):
            flat = flat * self.data.shape[axis + 1] + position
        return Terms(self.names, np.take(self.data.reshape(len(self.names), -1), flat, axis=1))

    def broadcast(self, shape: tuple[int, ...]) -> Terms:
        return Terms(self.names, np.broadcast_to(self.data, (len(self.names), *shape)).copy())

    def with_lower(self, name: str, usable: np.ndarray | None = None) -> Terms:
        """Add ``"<name>.lower" = a * macs + b * activations``, the largest such combination
        (``a, b >= 0``, a few mixes tried) that stays at or below ``name`` at every entry (every
        ``usable`` one, where given).

        MACs and activation counts are convex along every variable with increasing
        differences, so the under-estimate is too, wherever the cost itself is not.
        """
        cost, macs, traffic = self[name], self["macs"], self["activations"]
        valid = np.ones(cost.shape, dtype=bool) if usable is None else np.broadcast_to(usable, cost.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = float(np.min(np.where(valid & (macs > 0), cost / np.where(macs > 0, macs, 1.0), np.inf)))
            b = float(np.min(np.where(valid & (traffic > 0), cost / np.where(traffic > 0, traffic, 1.0), np.inf)))
        a, b = (a if np.isfinite(a) else 0.0), (b if np.isfinite(b) else 0.0)
        best, best_total = np.zeros_like(cost), -1.0
        for mix in np.linspace(0.0, 1.0, 11):
            estimate = mix * a * macs + (1 - mix) * b * traffic
            excess = float(np.max(np.where(valid & (cost > 0), estimate / np.where(cost > 0, cost, 1.0), 0.0)))
            estimate = estimate / max(excess, 1.0)
            if estimate[valid].sum() > best_total:
                best, best_total = estimate, float(estimate[valid].sum())
        return Terms((*self.names, f"{name}.lower"), np.concatenate([self.data, best[None]]))

    def envelope(self, names: Sequence[str], usable: np.ndarray | None = None) -> Terms:
        """Replace the named totals by their monotone lower envelope over every axis: at each
        entry, the least value at it or any larger index (any larger ``usable`` one, where given;
        where there is none, the largest value of the envelope)."""
        data = self.data.copy()
        for name in names:
            value = data[self.names.index(name)]
            if usable is not None:
                value = np.where(usable, value, np.inf)
            for axis in range(value.ndim):
                value = np.flip(np.minimum.accumulate(np.flip(value, axis), axis=axis), axis)
            if usable is not None:  # entries with no usable one at or above them
                finite = np.isfinite(value)
                value = np.where(finite, value, np.max(value, where=finite, initial=0.0))
            data[self.names.index(name)] = value
        return Terms(self.names, data)


@dataclass(frozen=True)
class Evaluation:
    entropy: np.ndarray
    objective: np.ndarray
    totals: Terms


@dataclass(frozen=True)
class Table:
    """Terms tabulated over the grids of ``axes`` (variables), one array axis each."""

    axes: tuple[str, ...]
    terms: Terms
    usable: np.ndarray | None = None
    """Which entries some design of the space reads (broadcastable to the table; ``None``: all).
    The extra layer costs are priced only there; elsewhere they hold a finite placeholder."""

    def take(self, index: dict[str, np.ndarray]) -> Terms:
        if not self.axes:
            return self.terms.broadcast((len(next(iter(index.values()))),))
        return self.terms.take(*(index[axis] for axis in self.axes))


class GridEvaluator:
    """Evaluates designs given as grid indices, from tables built once.

    A block's layers each read only a few variables (a bottleneck's 1x1 reduce conv the previous
    width and the inner width, its kxk conv the inner width and the kernel, ...), so every part
    of the network is tabulated layer group by layer group over the grids of the variables it
    reads (with the same layer lists as :meth:`SearchSpace.evaluate`), and a design's totals are
    gathered, not recomputed. Every extra layer cost can be replaced by its monotone lower
    envelope (the least value at this or any larger index), which never exceeds the cost and
    never decreases: the solver bounds non-monotone costs (measured latency) with the tables of
    :meth:`enveloped`. For each name in ``lower`` a total ``"<name>.lower"`` is added, a convex
    under-estimate of that cost (see :meth:`Terms.with_lower`) that the solver's first-order
    bound can use.
    """

    def __init__(self, space: SearchSpace, layer_costs: Any = None, lower: Sequence[str] = ()) -> None:
        self.space = space
        self.priced = list(layer_costs or ())
        self.costs = [*self.priced, ("activations", lambda layer: layer.activations)] if lower else self.priced
        grids = space.grids()
        self.grids = {name: grid.astype(float) for name, grid in grids.items()}
        m = space.body_stages
        self.stem = [Table(("stem",), Terms.of(space.stem_layers(self.grids["stem"]), self.costs))]
        self.stages = [(self._tables(s, True), self._tables(s, False)) for s in range(1, m + 1)]
        self.head = [Table((f"width{m}",), Terms.of(space.head_layers(self.grids[f"width{m}"]), self.costs))]
        for tables in self._parts():
            for position, table in enumerate(tables):
                terms = table.terms.broadcast(tuple(len(self.grids[axis]) for axis in table.axes))
                for name in lower:
                    terms = terms.with_lower(name, table.usable)
                tables[position] = replace(table, terms=terms)

    def _parts(self) -> list[list[Table]]:
        return [self.stem, self.head, *(part for pair in self.stages for part in pair)]

    def enveloped(self) -> GridEvaluator:
        """This evaluator with every extra layer cost replaced by its monotone lower envelope, from
        the tables already priced."""
        names = [name for name, _ in self.costs]
        low = copy.copy(self)
        low.stem, low.head = _enveloped(self.stem, names), _enveloped(self.head, names)
        low.stages = [(_enveloped(first, names), _enveloped(rest, names)) for first, rest in self.stages]
        return low

    def _tables(self, s: int, first: bool) -> list[Table]:
        """The tables of stage ``s``'s first block (or of each further block), one per group of
        layers that read the same variables. A layer that reads two of the stage's widths has
        its extra costs priced only at the pairs of values some design can take
        (:meth:`_reachable`): the ratio range leaves out most of a wide inner-width grid."""
        space = self.space
        axes = (space.previous(s), f"width{s}", f"inner{s}")
        grid = {axis: self.grids[axis] for axis in axes if axis in self.grids}
        shaped = [
            grid[axis].reshape([-1 if i == j else 1 for j in range(3)]) if axis in grid else None
            for i, axis in enumerate(axes)
        ]
        reachable = self._reachable(axes) if self.priced else {}
        kernels = self.grids[f"kernel{s}"] if space.has_kernel() else np.array([float(space.kernels[0])])
        by_kernel = []
        for kernel in kernels:
            shape = space.stage_shape(s, shaped[0], shaped[1], shaped[2], int(kernel), first)
            by_kernel.append(space.family.layers(shape))
        groups: dict[tuple[str, ...], list[tuple[Terms, np.ndarray | None]]] = {}
        for position in range(len(by_kernel[0])):
            usable = _reads_pair(by_kernel[0][position], reachable)
            costs = [(name, _priced_at(cost, usable)) for name, cost in self.priced] + self.costs[len(self.priced) :]
            per_kernel = [Terms.of([layers[position]], costs) for layers in by_kernel]
            data = per_kernel[0].data[..., None]
            if any(not np.array_equal(per_kernel[0].data, terms.data) for terms in per_kernel[1:]):
                data = np.stack([terms.data for terms in per_kernel], -1)
            read = tuple(axis for axis, size in zip((*axes, f"kernel{s}"), data.shape[1:]) if size > 1)
            sizes = tuple(size for size in data.shape[1:] if size > 1)
            if usable is not None:
                usable = np.broadcast_to(usable[..., None], data.shape[1:]).reshape(sizes)
            groups.setdefault(read, []).append(
                (Terms(per_kernel[0].names, data.reshape(data.shape[0], *sizes)), usable)
            )
        return [Table(read, _sum([terms for terms, _ in members]), members[0][1]) for read, members in groups.items()]

    def _reachable(self, axes: tuple[str, ...]) -> dict[tuple[int, int], np.ndarray]:
        """For each two of a stage's ``axes`` (positions ``i < j``), which pairs of their values
        some assignment of the third satisfies every ordering among the three with."""
        present = [i for i, axis in enumerate(axes) if axis in self.grids]
        relation = {
            (i, j): np.ones((len(self.grids[axes[i]]), len(self.grids[axes[j]])), dtype=bool)
            for i in present
            for j in present
            if i != j
        }
        for pair in self.space.pairs():
            if pair.lower in axes and pair.upper in axes:
                i, j = axes.index(pair.lower), axes.index(pair.upper)
                holds = pair.holds(self.grids[pair.lower][:, None], self.grids[pair.upper][None, :])
                relation[(i, j)] &= holds
                relation[(j, i)] &= holds.T
        reachable = {}
        for i, j in relation:
            if i < j:
                allowed = relation[(i, j)]
                for k in set(present) - {i, j}:
                    through = relation[(i, k)].astype(np.float32) @ relation[(k, j)].astype(np.float32)
                    allowed = allowed & (through > 0)
                reachable[(i, j)] = allowed
        return reachable

    def _part(self, tables: list[Table], index: dict[str, np.ndarray]) -> Terms:
        return _sum([table.take(index) for table in tables])

    def parts(self, index: dict[str, np.ndarray]) -> list[Terms]:
        """Totals of each part, in the order stem, (first block, further blocks) per body stage, head."""
        totals = [self._part(self.stem, index)]
        for s, (first, rest) in enumerate(self.stages, start=1):
            depth = self.grids[f"depth{s}"][index[f"depth{s}"]]
            totals += [self._part(first, index), self._part(rest, index) * (depth - 1)]
        return [*totals, self._part(self.head, index)]

    def prefix(self, index: dict[str, np.ndarray]) -> Terms:
        """Totals of the stem and every body stage but the last."""
        total = self._part(self.stem, index)
        for s in range(1, self.space.body_stages):
            first, rest = self.stages[s - 1]
            depth = self.grids[f"depth{s}"][index[f"depth{s}"]]
            total = total + self._part(first, index) + self._part(rest, index) * (depth - 1)
        return total

    def last_part(self, index: dict[str, np.ndarray], last: np.ndarray) -> Terms:
        """Totals of the last body stage and the head, for last-stage width indices ``last``."""
        m = self.space.body_stages
        index = {**index, f"width{m}": last}
        first, rest = self.stages[m - 1]
        depth = self.grids[f"depth{m}"][index[f"depth{m}"]]
        return self._part(first, index) + self._part(rest, index) * (depth - 1) + self._part(self.head, index)

    def __call__(self, index: dict[str, np.ndarray]) -> Evaluation:
        space, m = self.space, self.space.body_stages
        parts = [(self._part(first, index), self._part(rest, index)) for first, rest in self.stages]
        widths = [self.grids[f"width{s}"][index[f"width{s}"]] for s in range(1, m + 1)]
        return space.assemble(
            self._part(self.stem, index),
            parts,
            self._part(self.head, index),
            [*widths[:-1], space.final_channels(widths[-1])],
            self.grids["stem"][index["stem"]],
            [self.grids[f"depth{s}"][index[f"depth{s}"]] for s in range(1, m + 1)],
        )


def _enveloped(tables: list[Table], names: Sequence[str]) -> list[Table]:
    return [replace(table, terms=table.terms.envelope(names, table.usable)) for table in tables]


def _reads_pair(layer: Layer, reachable: dict[tuple[int, int], np.ndarray]) -> np.ndarray | None:
    """The reachable pairs of values of the two stage variables that ``layer`` reads, shaped over
    the stage's three axes (``None`` where it reads another number of them, or all are reachable)."""
    shape = np.broadcast_shapes(*(np.shape(value) for value in _array_fields(layer).values()))
    read = tuple(i for i, size in enumerate(shape) if size > 1)
    if len(shape) != 3 or len(read) != 2 or read not in reachable or reachable[read].all():
        return None
    sizes = [size if i in read else 1 for i, size in enumerate(shape)]
    return reachable[read].reshape(sizes)


def _array_fields(layer: Layer) -> dict[str, np.ndarray]:
    return {f.name: value for f in fields(layer) if isinstance(value := getattr(layer, f.name), np.ndarray)}


def _priced_at(cost: Callable[[Layer], Any], usable: np.ndarray | None) -> Callable[[Layer], Any]:
    """``cost``, evaluated only at the ``usable`` entries of a layer's arrays; elsewhere it is
    the largest of those values (a finite placeholder no design reads)."""
    if usable is None:
        return cost

    def priced(layer: Layer) -> np.ndarray:
        arrays = _array_fields(layer)
        shape = np.broadcast_shapes(usable.shape, *(value.shape for value in arrays.values()))
        where = np.broadcast_to(usable, shape)
        picked = replace(layer, **{name: np.broadcast_to(value, shape)[where] for name, value in arrays.items()})
        values = np.broadcast_to(np.asarray(cost(picked), dtype=float), (int(where.sum()),))
        result = np.full(shape, float(values.max(initial=0.0)))
        result[where] = values
        return result

    return priced


def _sum(terms: Sequence[Terms]) -> Terms:
    total = terms[0]
    for more in terms[1:]:
        total = total + more
    return total
