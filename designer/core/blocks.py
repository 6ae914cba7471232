"""Registry of block families: everything the project knows about a kind of residual block.

A family (one :class:`BlockFamily` subclass, registered with :func:`register_family`) says
which layers a block is made of (:meth:`BlockFamily.layers`: the records that FLOPs,
parameters, entropy and latency are all counted from), its defaults in the design space
(effectiveness bound, kernel, inner-width ratio, activation, head conv), and which stage
fields it takes. Its PyTorch module is registered under the same name in
:mod:`designer.nn.modules`; tests check, family by family, that both describe the same network.
Adding a family is one class here plus its module there.

Shape arguments may be NumPy arrays (many candidate blocks at once); only ``stride`` and
``se`` are plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from designer.core.errors import DesignerError
from designer.core.layers import Int, Layer, out_res

SE_RATIO = 0.25
SE_STYLES = ("efficientnet", "deepmad")
"""Squeeze-and-excitation conventions. ``efficientnet``: squeeze width ``int(SE_RATIO * block
input width)`` (at least 1), biased 1x1 convs, the network's activation inside. ``deepmad``
(the published DeepMAD mobile designs): squeeze width ``SE_RATIO * hidden width`` rounded to a
multiple of 8 and down (at least 8), 1x1 convs with batch-norm, SiLU inside. Both gate with a sigmoid."""


@dataclass(frozen=True)
class BlockShape:
    """The shape of one block: everything its layers and module are made from."""

    cin: Int
    width: Int
    stride: int
    res_in: Int
    kernel: Int = 3
    inner: Int | None = None
    expansion: Any = None
    se: bool = False
    se_style: str = "efficientnet"
    expand: Any = None
    """Whether an inverted residual has its expansion conv; ``None``: where the hidden width
    differs from the input width. The design space sets it where its ratio range guarantees that."""
    changes: Any = None
    """Whether the block changes the feature map's shape (a projection shortcut, or no identity);
    ``None``: where it strides or changes the width. The design space sets it where its
    orderings guarantee it, so that its tables never flip."""


def round_int(value: Any) -> Int:
    """Round half to even, for ints and arrays alike (Python's and torchvision's rule)."""
    if isinstance(value, np.ndarray):
        return np.rint(value).astype(np.int64)
    return int(round(value))


def se_squeeze(cin: Int, hidden: Int, style: str) -> Int:
    """The squeeze width of an SE on ``hidden`` channels in a block fed ``cin`` (see :data:`SE_STYLES`)."""
    if style == "deepmad":
        return np.maximum(1, round_int(hidden * SE_RATIO) // 8) * 8
    if isinstance(cin, np.ndarray):
        return np.maximum(1, (cin * SE_RATIO).astype(np.int64))
    return max(1, int(cin * SE_RATIO))


class BlockFamily:
    """A kind of residual block. Subclasses set the class attributes and :meth:`layers`."""

    name: ClassVar[str] = ""
    main_layers: ClassVar[int] = 0
    """Main conv layers per block (the most a block of this family has)."""
    rho0: ClassVar[float] = 0.3
    """Default effectiveness bound of designs of this family."""
    kernel: ClassVar[int] = 3
    """Default kernel of the block's spatial conv."""
    ratio: ClassVar[int | None] = None
    """Default fixed inner-width ratio (``expansion``; ``None``: the block has no inner width)."""
    ratio_range: ClassVar[tuple[float, float] | None] = None
    """Default range of the inner-width ratio when the solver chooses the inner width per stage."""
    inner_below_width: ClassVar[bool] = True
    """Whether the ratio is output / inner width (a bottleneck) rather than inner / output (an expansion)."""
    kernels: ClassVar[tuple[int, ...]] = (3, 5)
    """Kernels the solver chooses each stage's from by default."""
    strides: ClassVar[tuple[int, ...]] = (2, 2, 2, 2)
    """Default strides of the body stages (after a stride-2 stem)."""
    first_depth: ClassVar[int | None] = None
    """Default cap on the first body stage's blocks (``None``: no cap)."""
    penalty_skip: ClassVar[int] = 0
    """Leading body stages the ``std`` depth penalty leaves out by default."""
    grid_ratios: ClassVar[int] = 3
    """Inner-width ratios the latency grid times per stage width (the ends of the range, and
    as many points between, evenly spaced on a log scale)."""
    activation: ClassVar[str] = "relu"
    head_width: ClassVar[int | None] = None
    """Default width of a 1x1 conv before global pooling (``None``: no head conv)."""
    has_se: ClassVar[bool] = False
    """Whether stages of this family may add squeeze-and-excitation."""
    uses_expansion: ClassVar[bool] = False
    """Whether a stage may give its inner width as an expansion of each block's input width."""

    @property
    def uses_inner(self) -> bool:
        return self.ratio is not None

    def layers(self, shape: BlockShape) -> list[Layer]:
        raise NotImplementedError

    def inner_width(self, shape: BlockShape) -> Int:
        """Width of the block's inner (bottleneck or expanded) feature map."""
        return shape.width

    def width_multiple(self, ratio: int) -> int:
        """With a fixed ratio, output widths are multiples of the width step times this."""
        return 1

    def stage_fields(self, width: Any, ratio: int) -> dict[str, Any]:
        """The stage fields that give a stage of ``width`` its inner width at a fixed ratio."""
        return {}


FAMILIES: dict[str, BlockFamily] = {}


def register_family(cls: type[BlockFamily]) -> type[BlockFamily]:
    FAMILIES[cls.name] = cls()
    return cls


def get_family(name: str) -> BlockFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        raise DesignerError(f"unknown block family {name!r}; use one of: {', '.join(FAMILIES)}") from None


def list_families() -> list[str]:
    return list(FAMILIES)


def _changes(shape: BlockShape) -> Any:
    """Whether the block changes the feature map's shape (see :attr:`BlockShape.changes`)."""
    if shape.changes is not None:
        return shape.changes
    return _differs(shape.cin, shape.width) | (shape.stride != 1)


def _projection(shape: BlockShape) -> Layer:
    return Layer(
        "conv",
        "shortcut",
        shape.cin,
        shape.width,
        shape.res_in,
        1,
        shape.stride,
        act=False,
        present=_changes(shape),
    )


@register_family
class BasicFamily(BlockFamily):
    """ResNet basic block: kxk conv (stride) then kxk conv, identity or 1x1 projection shortcut."""

    name = "basic"
    main_layers = 2
    strides = (2, 2, 2, 1, 2)
    first_depth = 3
    penalty_skip = 2

    def layers(self, shape: BlockShape) -> list[Layer]:
        s, k = shape, shape.kernel
        return [
            Layer("conv", "main", s.cin, s.width, s.res_in, k, s.stride),
            Layer("conv", "main", s.width, s.width, out_res(s.res_in, s.stride), k, 1, fused_add=True),
            _projection(s),
        ]


@register_family
class BottleneckFamily(BlockFamily):
    """ResNet bottleneck (v1.5): 1x1 reduce, kxk (stride), 1x1 expand; projection if needed.

    In the design space the output width is ``ratio`` times the inner width.
    """

    name = "bottleneck"
    main_layers = 3
    ratio = 4
    ratio_range = (1.0, 10.0)
    strides = (2, 2, 2, 1, 2)
    first_depth = 3
    penalty_skip = 2

    def inner_width(self, shape: BlockShape) -> Int:
        if shape.inner is None:
            raise DesignerError("a bottleneck stage needs 'inner' (its 1x1-reduced width); add it to the stage")
        return shape.inner

    def width_multiple(self, ratio: int) -> int:
        return ratio

    def stage_fields(self, width: Any, ratio: int) -> dict[str, Any]:
        return {"inner": width // ratio}

    def layers(self, shape: BlockShape) -> list[Layer]:
        s, k, b = shape, shape.kernel, self.inner_width(shape)
        return [
            Layer("conv", "main", s.cin, b, s.res_in, 1, 1),
            Layer("conv", "main", b, b, s.res_in, k, s.stride),
            Layer("conv", "main", b, s.width, out_res(s.res_in, s.stride), 1, 1, fused_add=True),
            _projection(s),
        ]


@register_family
class InvertedResidualFamily(BlockFamily):
    """MobileNetV2 inverted residual, optionally with squeeze-and-excitation (EfficientNet's MBConv).

    1x1 expansion to the hidden width (omitted when the hidden width equals the input width,
    as for expansion 1), kxk depthwise conv (stride), optional SE on the hidden features, linear
    1x1 projection. The residual is an identity, present only when stride is 1 and the input
    and output widths match; the family has no projection shortcuts. The hidden width is
    ``round(cin * expansion)`` per block (torchvision's rule), or ``inner`` for all blocks.
    In the design space the expansion is ``ratio`` and a 1x1 head conv precedes pooling.
    """

    name = "mbv2"
    main_layers = 3
    rho0 = 0.5
    kernel = 5
    ratio = 6
    ratio_range = (1.5, 6.0)
    inner_below_width = False
    grid_ratios = 2
    activation = "silu"
    head_width = 1280
    has_se = True
    uses_expansion = True

    def inner_width(self, shape: BlockShape) -> Int:
        if shape.inner is not None:
            return shape.inner
        if shape.expansion is None:
            raise DesignerError("an mbv2 stage needs 'expansion' (or 'inner'); add one to the stage")
        return round_int(shape.cin * shape.expansion)

    def stage_fields(self, width: Any, ratio: int) -> dict[str, Any]:
        return {"expansion": float(ratio)}

    def layers(self, shape: BlockShape) -> list[Layer]:
        s, k, hidden = shape, shape.kernel, self.inner_width(shape)
        res_out = out_res(s.res_in, s.stride)
        residual = not s.changes if s.changes is not None else s.stride == 1 and _all_equal(s.cin, s.width)
        expand = _differs(hidden, s.cin) if s.expand is None else s.expand
        layers = [
            Layer("conv", "main", s.cin, hidden, s.res_in, 1, 1, present=expand),
            Layer("dwconv", "main", hidden, hidden, s.res_in, k, s.stride, groups=hidden),
        ]
        if s.se:
            squeeze = se_squeeze(s.cin, hidden, s.se_style)
            layers.append(Layer("se", "se", hidden, hidden, res_out, squeeze=squeeze, norm=s.se_style == "deepmad"))
        layers.append(Layer("conv", "main", hidden, s.width, res_out, 1, 1, fused_add=residual, act=False))
        return layers


def _differs(a: Int, b: Int) -> Any:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a) != np.asarray(b)
    return a != b


def _all_equal(a: Int, b: Int) -> bool:
    """Whether every candidate has equal widths; vectorised callers pass cin == width arrays."""
    return bool(np.all(np.asarray(a) == np.asarray(b)))
