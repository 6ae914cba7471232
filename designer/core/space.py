"""The design space the solver chooses from, and vectorised evaluation of candidates in it.

A design is a stride-2 stem conv followed by ``stages - 1`` body stages that each start with
a stride-2 block, so the network has ``stages`` down-sampling stages (entropy stages). The
decision variables are the MP's: the stem width and each body stage's width and depth
(blocks). The block's own shape is a parameter of the solve: the kernel size, the expansion
(bottleneck: output width / inner width, so the width grid is a multiple of
``width_step * expansion`` and the inner width stays on the ``width_step`` grid; mbv2: hidden
width / block input width) and, for mbv2, the width of the 1x1 head conv (1280 by default,
as in MobileNetV2 and EfficientNet: the head is cheap at the last resolution and the entropy
would otherwise grow it without limit).

Every variable takes values on a sorted grid, and a larger value never lowers entropy and
never lowers cost. Entropy is concave and costs are convex along each variable, and both have
increasing differences between any two variables: the solver's bounds rest on these facts.
:meth:`SearchSpace.evaluate` prices many designs at once by passing arrays through the same
block layer lists that price a single spec (``designer.core.blocks``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from designer.core.blocks import BlockShape, get_family
from designer.core.entropy import design_objective, stage_entropy
from designer.core.errors import ParameterError
from designer.core.layers import Layer, out_res
from designer.core.request import DesignRequest
from designer.core.spec import ArchSpec, StageSpec, StemSpec
from designer.core.structure import head_block, stem_block


class SearchSpace:
    """The grids and the evaluation of the designs of a :class:`DesignRequest`."""

    def __init__(self, request: DesignRequest) -> None:
        self.request = request
        self.family = get_family(request.family)
        self.resolution, self.stages = request.resolution, request.stages
        self.num_classes, self.in_channels = request.num_classes, request.in_channels
        self.kernel = request.kernel or self.family.kernel
        self.ratio = request.expansion or self.family.ratio or 1
        self.head_width = request.head_width or self.family.head_width
        self.se = request.se and self.family.has_se
        self.alpha, self.beta = request.weights, request.beta
        self.max_depth = request.max_depth
        step = request.width_step
        multiple = step * self.family.width_multiple(self.ratio)
        self.widths = tuple(range(multiple, request.max_width + 1, multiple))
        self.stem_widths = tuple(
            w for w in range(step, request.max_stem_width + 1, step) if w >= request.min_stem_width
        )
        if not self.widths:
            raise ParameterError(f"the width grid is empty: raise {{max_width}} to at least {multiple}")
        if not self.stem_widths:
            raise ParameterError(
                "no stem width is a multiple of {width_step} within {min_stem_width}..{max_stem_width}"
            )
        resolutions = self.stage_resolutions
        if any(a <= b for a, b in zip(resolutions, resolutions[1:])):
            raise ParameterError(
                f"{self.stages} down-sampling stages do not fit resolution {self.resolution}; "
                f"use {{stages}} {max(2, int(np.log2(max(self.resolution, 2))))} or fewer"
            )

    @classmethod
    def of(cls, family: str, resolution: int = 224, **parameters: Any) -> SearchSpace:
        """The space of ``family`` with the request's other parameters (defaults unless given)."""
        return cls(DesignRequest(family=family, resolution=resolution, **parameters))

    # --- shape of the space -------------------------------------------------------------
    @property
    def body_stages(self) -> int:
        return self.stages - 1

    @property
    def stage_resolutions(self) -> list[int]:
        """Output resolution of the stem and of each body stage."""
        res = [out_res(self.resolution, 2)]
        for _ in range(self.body_stages):
            res.append(out_res(res[-1], 2))
        return res

    @property
    def activation(self) -> str:
        return self.family.activation

    def grids(self) -> dict[str, np.ndarray]:
        """Every decision variable and its sorted grid of values (``width{m}`` included)."""
        m = self.body_stages
        grids: dict[str, np.ndarray] = {"stem": np.array(self.stem_widths)}
        for s in range(1, m + 1):
            grids[f"width{s}"] = np.array(self.widths)
        for s in range(1, m + 1):
            grids[f"depth{s}"] = np.arange(1, self.max_depth + 1)
        return grids

    # --- evaluation ------------------------------------------------------------------------
    def ordered_pairs(self) -> list[tuple[str, str]]:
        """Pairs ``(a, b)`` whose values must satisfy ``a <= b``: non-decreasing widths."""
        chain = ["stem"] + [f"width{s}" for s in range(1, self.body_stages + 1)]
        return list(zip(chain, chain[1:]))

    def stage_layers(self, cin: Any, width: Any, s: int) -> tuple[list[Layer], list[Layer]]:
        """Layers of the first block and of each further block of body stage ``s`` (1-based)."""
        res = self.stage_resolutions
        fields = self.family.stage_fields(width, self.ratio)
        first = self.family.layers(BlockShape(cin, width, 2, res[s - 1], self.kernel, se=self.se, **fields))
        rest = self.family.layers(BlockShape(width, width, 1, res[s], self.kernel, se=self.se, **fields))
        return first, rest

    def stem_layers(self, stem: Any) -> list[Layer]:
        return stem_block(self.in_channels, stem, self.resolution, 3, 2, False)

    def head_layers(self, last: Any) -> list[Layer]:
        """The head fed by the last stage's width: the layers a spec of the space has there."""
        return head_block(last, self.stage_resolutions[-1], self.head_width, self.num_classes)

    def final_channels(self, last: Any) -> Any:
        return self.head_width if self.head_width is not None else last

    def evaluate(self, values: dict[str, np.ndarray], layer_costs: LayerCosts = None) -> Evaluation:
        """Price designs given as arrays of values (one entry per design)."""
        m = self.body_stages
        parts = []
        for s in range(1, m + 1):
            cin = values["stem"] if s == 1 else values[f"width{s - 1}"]
            first, rest = self.stage_layers(cin, values[f"width{s}"], s)
            parts.append((Terms.of(first, layer_costs), Terms.of(rest, layer_costs)))
        return self.assemble(
            Terms.of(self.stem_layers(values["stem"]), layer_costs),
            parts,
            Terms.of(self.head_layers(values[f"width{m}"]), layer_costs),
            [values["stem"]] + [values[f"width{s}"] for s in range(1, m)] + [self.final_channels(values[f"width{m}"])],
            [values[f"depth{s}"] for s in range(1, m + 1)],
        )

    def assemble(
        self, stem: Terms, stages: list[tuple[Terms, Terms]], head: Terms, channels: list[Any], depths: list[Any]
    ) -> Evaluation:
        """Totals, multi-scale entropy and objective from per-part terms (the one formula)."""
        res = self.stage_resolutions
        weights = self.alpha
        total = stem
        entropy = weights[0] * stage_entropy(res[0], channels[0], total["log_width"])
        for s, ((first, rest), depth) in enumerate(zip(stages, depths), start=1):
            total = total + first + rest * (np.asarray(depth, dtype=float) - 1)
            if s == len(stages):
                total = total + head
            entropy = entropy + weights[s] * stage_entropy(res[s], channels[s], total["log_width"])
        return Evaluation(
            entropy, design_objective(entropy, np.stack(np.broadcast_arrays(*depths), -1), self.beta), total
        )

    # --- designs as specs ---------------------------------------------------------------
    def to_spec(self, point: dict[str, float], name: str = "") -> ArchSpec:
        """The spec of one design given as ``{variable: value}``."""
        stages = []
        for s in range(1, self.body_stages + 1):
            width = int(point[f"width{s}"])
            fields = self.family.stage_fields(width, self.ratio)
            stages.append(
                StageSpec(
                    block=self.family.name,
                    width=width,
                    depth=int(point[f"depth{s}"]),
                    stride=2,
                    kernel=int(self.kernel),
                    se=self.se,
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

    def with_lower(self, name: str) -> Terms:
        """Add ``"<name>.lower" = a * macs + b * activations``, the largest such combination
        (``a, b >= 0``, a few mixes tried) that stays at or below ``name`` at every entry.

        MACs and activation counts are convex along every variable with increasing
        differences, so the under-estimate is too, wherever the cost itself is not.
        """
        cost, macs, traffic = self[name], self["macs"], self["activations"]
        with np.errstate(divide="ignore", invalid="ignore"):
            a = float(np.min(np.where(macs > 0, cost / np.where(macs > 0, macs, 1.0), np.inf)))
            b = float(np.min(np.where(traffic > 0, cost / np.where(traffic > 0, traffic, 1.0), np.inf)))
        a, b = (a if np.isfinite(a) else 0.0), (b if np.isfinite(b) else 0.0)
        best, best_total = np.zeros_like(cost), -1.0
        for mix in np.linspace(0.0, 1.0, 11):
            estimate = mix * a * macs + (1 - mix) * b * traffic
            excess = float(np.max(np.where(cost > 0, estimate / np.where(cost > 0, cost, 1.0), 0.0)))
            estimate = estimate / max(excess, 1.0)
            if estimate.sum() > best_total:
                best, best_total = estimate, float(estimate.sum())
        return Terms((*self.names, f"{name}.lower"), np.concatenate([self.data, best[None]]))

    def envelope(self, names: Sequence[str]) -> Terms:
        """Replace the named totals by their monotone lower envelope over every axis."""
        data = self.data.copy()
        for name in names:
            value = data[self.names.index(name)]
            for axis in range(value.ndim):
                value = np.flip(np.minimum.accumulate(np.flip(value, axis), axis=axis), axis)
            data[self.names.index(name)] = value
        return Terms(self.names, data)


@dataclass(frozen=True)
class Evaluation:
    entropy: np.ndarray
    objective: np.ndarray
    totals: Terms


class GridEvaluator:
    """Evaluates designs given as grid indices, from per-stage tables built once.

    Stage ``s``'s first block depends only on the previous width and its own, the others only
    on its own width, so their terms are tabulated over the grids (with the same layer lists
    as :meth:`SearchSpace.evaluate`) and a design's totals are gathered, not recomputed.
    With ``envelope``, every extra layer cost is replaced by its monotone lower envelope
    (the least value at this or any larger index), which never exceeds the cost and never
    decreases: the solver bounds non-monotone costs (measured latency) with it. For each name
    in ``lower`` a total ``"<name>.lower"`` is added, a convex under-estimate of that cost
    (see :meth:`Terms.with_lower`) that the solver's first-order bound can use.
    """

    def __init__(
        self, space: SearchSpace, layer_costs: Any = None, envelope: bool = False, lower: Sequence[str] = ()
    ) -> None:
        self.space = space
        if lower:
            layer_costs = [*(layer_costs or ()), ("activations", lambda layer: layer.activations)]
        grids = space.grids()
        self.grids = {name: grid.astype(float) for name, grid in grids.items()}
        m = space.body_stages
        widths = self.grids["width1"]
        self.stem = Terms.of(space.stem_layers(self.grids["stem"]), layer_costs).broadcast((len(self.grids["stem"]),))
        self.stages = []
        for s in range(1, m + 1):
            previous = self.grids["stem"] if s == 1 else widths
            first, rest = space.stage_layers(previous[:, None], widths[None, :], s)
            first_terms = Terms.of(first, layer_costs).broadcast((len(previous), len(widths)))
            rest_terms = Terms.of(rest, layer_costs).broadcast((1, len(widths)))
            self.stages.append((first_terms, Terms(rest_terms.names, rest_terms.data[:, 0])))
        self.head = Terms.of(space.head_layers(widths), layer_costs).broadcast((len(widths),))
        for name in lower:
            self.stem = self.stem.with_lower(name)
            self.stages = [(first.with_lower(name), rest.with_lower(name)) for first, rest in self.stages]
            self.head = self.head.with_lower(name)
        if envelope:
            names = [name for name, _ in layer_costs or ()]
            self.stem = self.stem.envelope(names)
            self.stages = [(first.envelope(names), rest.envelope(names)) for first, rest in self.stages]
            self.head = self.head.envelope(names)

    def prefix(self, index: dict[str, np.ndarray]) -> Terms:
        """Totals of the stem and every body stage but the last."""
        total = self.stem.take(index["stem"])
        for s in range(1, self.space.body_stages):
            previous = index["stem"] if s == 1 else index[f"width{s - 1}"]
            first, rest = self.stages[s - 1]
            depth = self.grids[f"depth{s}"][index[f"depth{s}"]]
            total = total + first.take(previous, index[f"width{s}"]) + rest.take(index[f"width{s}"]) * (depth - 1)
        return total

    def last_part(self, index: dict[str, np.ndarray], last: np.ndarray) -> Terms:
        """Totals of the last body stage and the head, for last-stage width indices ``last``."""
        m = self.space.body_stages
        previous = index["stem"] if m == 1 else index[f"width{m - 1}"]
        first, rest = self.stages[m - 1]
        depth = self.grids[f"depth{m}"][index[f"depth{m}"]]
        return first.take(previous, last) + rest.take(last) * (depth - 1) + self.head.take(last)

    def __call__(self, index: dict[str, np.ndarray]) -> Evaluation:
        space, m = self.space, self.space.body_stages
        parts = []
        for s in range(1, m + 1):
            previous = index["stem"] if s == 1 else index[f"width{s - 1}"]
            first, rest = self.stages[s - 1]
            parts.append((first.take(previous, index[f"width{s}"]), rest.take(index[f"width{s}"])))
        last = self.grids[f"width{m}"][index[f"width{m}"]]
        channels = [self.grids["stem"][index["stem"]]]
        channels += [self.grids[f"width{s}"][index[f"width{s}"]] for s in range(1, m)]
        channels.append(space.final_channels(last))
        return space.assemble(
            self.stem.take(index["stem"]),
            parts,
            self.head.take(index[f"width{m}"]),
            channels,
            [self.grids[f"depth{s}"][index[f"depth{s}"]] for s in range(1, m + 1)],
        )
