"""Registry of block families: what layers a block is made of, and its PyTorch module.

Each family turns one block's shape into a list of :class:`~designer.layers.Layer` records
(``layers``) and into an ``nn.Module`` (``build``, which imports PyTorch lazily so that the
solver and the cost model never pay for importing it). Tests check that both describe the
same network: FLOPs and parameters counted on the built module equal the sums over layers.

Shape arguments may be NumPy arrays (many candidate blocks at once); only ``stride`` and
``se`` are plain values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from designer.errors import DesignerError
from designer.layers import Int, Layer

if TYPE_CHECKING:
    from torch import nn

SE_RATIO = 0.25
"""SE squeeze width is ``max(1, int(block_in_channels * SE_RATIO))`` (EfficientNet's rule)."""


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


def round_int(value: Any) -> Int:
    """Round half to even, for ints and arrays alike (Python's and torchvision's rule)."""
    if isinstance(value, np.ndarray):
        return np.rint(value).astype(np.int64)
    return int(round(value))


def se_squeeze(cin: Int) -> Int:
    if isinstance(cin, np.ndarray):
        return np.maximum(1, (cin * SE_RATIO).astype(np.int64))
    return max(1, int(cin * SE_RATIO))


class BlockFamily:
    """A kind of residual block. Subclasses set ``name``, ``main_layers`` and the two methods."""

    name: str = ""
    main_layers: int = 0
    """Main conv layers per block (the most a block of this family has)."""
    uses_inner: bool = False
    uses_expansion: bool = False

    def layers(self, shape: BlockShape) -> list[Layer]:
        raise NotImplementedError

    def build(self, shape: BlockShape, activation: str) -> nn.Module:
        raise NotImplementedError

    def inner_width(self, shape: BlockShape) -> Int:
        """Width of the block's inner (bottleneck or expanded) feature map."""
        return shape.width


BLOCKS: dict[str, BlockFamily] = {}


def register_block(cls: type[BlockFamily]) -> type[BlockFamily]:
    BLOCKS[cls.name] = cls()
    return cls


def get_block(name: str) -> BlockFamily:
    try:
        return BLOCKS[name]
    except KeyError:
        raise DesignerError(f"unknown block family {name!r}; use one of: {', '.join(sorted(BLOCKS))}") from None


def _needs_projection(shape: BlockShape) -> Any:
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
        present=_needs_projection(shape),
    )


def _module_builder(name: str) -> Callable[..., nn.Module]:
    from designer import modules

    return getattr(modules, name)


@register_block
class BasicFamily(BlockFamily):
    """ResNet basic block: kxk conv (stride) then kxk conv, identity or 1x1 projection shortcut."""

    name = "basic"
    main_layers = 2

    def layers(self, shape: BlockShape) -> list[Layer]:
        s, k = shape, shape.kernel
        res_out = (s.res_in + s.stride - 1) // s.stride
        return [
            Layer("conv", "main", s.cin, s.width, s.res_in, k, s.stride),
            Layer("conv", "main", s.width, s.width, res_out, k, 1, fused_add=True),
            _projection(s),
        ]

    def build(self, shape: BlockShape, activation: str) -> nn.Module:
        return _module_builder("BasicBlock")(shape, activation)


@register_block
class BottleneckFamily(BlockFamily):
    """ResNet bottleneck (v1.5): 1x1 reduce, kxk (stride), 1x1 expand; projection if needed."""

    name = "bottleneck"
    main_layers = 3
    uses_inner = True

    def inner_width(self, shape: BlockShape) -> Int:
        if shape.inner is None:
            raise DesignerError("a bottleneck stage needs 'inner' (its 1x1-reduced width); add it to the stage")
        return shape.inner

    def layers(self, shape: BlockShape) -> list[Layer]:
        s, k, b = shape, shape.kernel, self.inner_width(shape)
        res_out = (s.res_in + s.stride - 1) // s.stride
        return [
            Layer("conv", "main", s.cin, b, s.res_in, 1, 1),
            Layer("conv", "main", b, b, s.res_in, k, s.stride),
            Layer("conv", "main", b, s.width, res_out, 1, 1, fused_add=True),
            _projection(s),
        ]

    def build(self, shape: BlockShape, activation: str) -> nn.Module:
        return _module_builder("Bottleneck")(shape, activation)


@register_block
class InvertedResidualFamily(BlockFamily):
    """MobileNetV2 inverted residual, optionally with squeeze-and-excitation (EfficientNet's MBConv).

    1x1 expansion to the hidden width (omitted when the hidden width equals the input width,
    as for expansion 1), kxk depthwise conv (stride), optional SE on the hidden features, linear
    1x1 projection. The residual is an identity, present only when stride is 1 and the input
    and output widths match; the family has no projection shortcuts. The hidden width is
    ``round(cin * expansion)`` per block (torchvision's rule), or ``inner`` for all blocks.
    """

    name = "mbv2"
    main_layers = 3
    uses_inner = True
    uses_expansion = True

    def inner_width(self, shape: BlockShape) -> Int:
        if shape.inner is not None:
            return shape.inner
        if shape.expansion is None:
            raise DesignerError("an mbv2 stage needs 'expansion' (or 'inner'); add one to the stage")
        return round_int(shape.cin * shape.expansion)

    def layers(self, shape: BlockShape) -> list[Layer]:
        s, k, hidden = shape, shape.kernel, self.inner_width(shape)
        res_out = (s.res_in + s.stride - 1) // s.stride
        residual = s.stride == 1 and _all_equal(s.cin, s.width)
        layers = [
            Layer("conv", "main", s.cin, hidden, s.res_in, 1, 1, present=_differs(hidden, s.cin)),
            Layer("dwconv", "main", hidden, hidden, s.res_in, k, s.stride, groups=hidden),
        ]
        if s.se:
            layers.append(Layer("se", "se", hidden, hidden, res_out, squeeze=se_squeeze(s.cin), norm=False))
        layers.append(Layer("conv", "main", hidden, s.width, res_out, 1, 1, fused_add=residual, act=False))
        return layers

    def build(self, shape: BlockShape, activation: str) -> nn.Module:
        return _module_builder("InvertedResidual")(shape, activation)


def _differs(a: Int, b: Int) -> Any:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a) != np.asarray(b)
    return a != b


def _all_equal(a: Int, b: Int) -> bool:
    """Whether every candidate has equal widths; vectorised callers pass cin == width arrays."""
    return bool(np.all(np.asarray(a) == np.asarray(b)))
