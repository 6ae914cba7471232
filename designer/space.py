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
block layer lists that price a single spec (``designer.blocks``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np

from designer.blocks import BlockShape, get_block
from designer.entropy import DEFAULT_ALPHA, DEFAULT_BETA, depth_penalty, stage_weights
from designer.errors import DesignerError
from designer.layers import Layer
from designer.spec import ArchSpec, StageSpec, StemSpec
from designer.structure import out_res

FAMILY_DEFAULTS = {
    # family: (rho0, kernel, expansion, activation)
    "basic": (0.3, 3, None, "relu"),
    "bottleneck": (0.3, 3, 4, "relu"),
    "mbv2": (0.5, 5, 6, "silu"),
}
RHO_RANGE = (0.05, 5.0)


@dataclass(frozen=True)
class SearchSpace:
    family: str
    resolution: int = 224
    stages: int = 5
    width_step: int = 8
    max_width: int = 2048
    stem_widths: tuple[int, ...] = tuple(range(16, 129, 8))
    max_depth: int = 32
    kernel: int = 0
    """Kernel of every block; 0 = the family's default."""
    expansion: int = 0
    """Bottleneck output/inner width or mbv2 hidden/input width; 0 = the family's default."""
    head_width: int = 1280
    se: bool = True
    num_classes: int = 1000
    in_channels: int = 3
    alpha: tuple[float, ...] = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    widths: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        defaults = FAMILY_DEFAULTS.get(self.family)
        if defaults is None:
            raise DesignerError(f"unknown family {self.family!r}; use one of: {', '.join(FAMILY_DEFAULTS)}")
        _, kernel, expansion, _ = defaults
        if not self.kernel:
            object.__setattr__(self, "kernel", kernel)
        if not self.expansion and expansion is not None:
            object.__setattr__(self, "expansion", expansion)
        if self.kernel not in (1, 3, 5, 7):
            raise DesignerError(f"--kernel {self.kernel} is not supported; use 1, 3, 5 or 7")
        if self.family == "basic" and self.expansion:
            raise DesignerError("basic blocks have no expansion; drop --expansion")
        if self.family != "basic" and (int(self.expansion) != self.expansion or self.expansion < 1):
            raise DesignerError(f"--expansion must be a whole number >= 1, got {self.expansion}")
        if self.width_step < 1 or self.max_width < self.width_step * max(self.expansion, 1):
            raise DesignerError("the width grid is empty; use --width-step >= 1 and a larger --max-width")
        step = self.width_step * (self.expansion if self.family == "bottleneck" else 1)
        object.__setattr__(self, "widths", tuple(range(step, self.max_width + 1, step)))
        if self.stages < 2:
            raise DesignerError(f"--stages must be at least 2 (stem plus one stage), got {self.stages}")
        resolutions = self.stage_resolutions
        if any(a <= b for a, b in zip(resolutions, resolutions[1:])):
            raise DesignerError(
                f"{self.stages} down-sampling stages do not fit resolution {self.resolution}; "
                f"use --stages {max(2, int(np.log2(max(self.resolution, 2))))} or fewer"
            )
        if self.max_depth < 1:
            raise DesignerError("--max-depth must be at least 1")
        if not self.stem_widths or min(self.stem_widths) < 1:
            raise DesignerError("stem widths must be positive")

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
        return FAMILY_DEFAULTS[self.family][3]

    def grids(self) -> dict[str, np.ndarray]:
        """Every decision variable and its sorted grid of values (``width{m}`` included)."""
        m = self.body_stages
        grids: dict[str, np.ndarray] = {"stem": np.array(sorted(self.stem_widths))}
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

    def block_extra(self, width: Any) -> dict[str, Any]:
        if self.family == "bottleneck":
            return {"inner": width // self.expansion}
        if self.family == "mbv2":
            return {"expansion": self.expansion}
        return {}

    def stage_layers(self, cin: Any, width: Any, s: int) -> tuple[list[Layer], list[Layer]]:
        """Layers of the first block and of each further block of body stage ``s`` (1-based)."""
        family = get_block(self.family)
        res = self.stage_resolutions
        se = self.se and self.family == "mbv2"
        first = family.layers(BlockShape(cin, width, 2, res[s - 1], self.kernel, se=se, **self.block_extra(width)))
        rest = family.layers(BlockShape(width, width, 1, res[s], self.kernel, se=se, **self.block_extra(width)))
        return first, rest

    def stem_layers(self, stem: Any) -> list[Layer]:
        return [Layer("conv", "main", self.in_channels, stem, self.resolution, 3, 2)]

    def head_layers(self, last: Any) -> list[Layer]:
        """The mbv2 head conv (if any), global pooling and the classifier, fed by the last stage's
        width: the layers ``designer.structure.head_layers`` gives a spec of the space."""
        layers = []
        channels = last
        res = self.stage_resolutions[-1]
        if self.family == "mbv2":
            layers.append(Layer("conv", "main", last, self.head_width, res, 1, 1))
            channels = self.head_width
        layers.append(Layer("pool", "pool", channels, channels, res, res, res, norm=False))
        layers.append(Layer("linear", "classifier", channels, self.num_classes, 1, norm=False, bias=True))
        return layers

    def final_channels(self, last: Any) -> Any:
        return self.head_width if self.family == "mbv2" else last

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
        weights = stage_weights(self.stages, self.alpha)
        total = stem
        entropy = weights[0] * np.log(float(res[0]) ** 2 * channels[0]) * total["log_width"]
        for s, ((first, rest), depth) in enumerate(zip(stages, depths), start=1):
            total = total + first + rest * (np.asarray(depth, dtype=float) - 1)
            if s == len(stages):
                total = total + head
            entropy = entropy + weights[s] * np.log(float(res[s]) ** 2 * channels[s]) * total["log_width"]
        objective = entropy - depth_penalty(np.stack(np.broadcast_arrays(*depths), -1), self.beta)
        return Evaluation(entropy, objective, total)

    # --- designs as specs ---------------------------------------------------------------
    def to_spec(self, point: dict[str, float], name: str = "") -> ArchSpec:
        """The spec of one design given as ``{variable: value}``."""
        stages = []
        for s in range(1, self.body_stages + 1):
            width = int(point[f"width{s}"])
            extra = self.block_extra(width)
            stages.append(
                StageSpec(
                    block=self.family,
                    width=width,
                    depth=int(point[f"depth{s}"]),
                    stride=2,
                    kernel=int(self.kernel),
                    inner=extra.get("inner"),
                    expansion=float(extra["expansion"]) if "expansion" in extra else None,
                    se=self.se and self.family == "mbv2",
                )
            )
        return ArchSpec(
            resolution=self.resolution,
            stem=StemSpec(width=int(point["stem"]), kernel=3, stride=2),
            stages=tuple(stages),
            head_width=self.head_width if self.family == "mbv2" else None,
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


def family_rho(family: str) -> float:
    if family not in FAMILY_DEFAULTS:
        raise DesignerError(f"unknown family {family!r}; use one of: {', '.join(FAMILY_DEFAULTS)}")
    return FAMILY_DEFAULTS[family][0]


def validate_rho(rho0: float) -> None:
    low, high = RHO_RANGE
    if not low <= rho0 <= high:
        raise DesignerError(f"--rho {rho0:g} is out of range; use a value in [{low:g}, {high:g}] (typically 0.1 to 2)")
