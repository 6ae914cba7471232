"""PyTorch modules of the block families, registered under the family names of
:mod:`designer.core.blocks`: :func:`block_module` builds a block from its shape."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from designer.core.blocks import BlockShape, get_family, se_squeeze


def make_activation(name: str) -> nn.Module:
    activations = {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "hardswish": nn.Hardswish}
    return activations[name](inplace=True)


class ConvNormAct(nn.Sequential):
    """Conv (no bias, ``kernel // 2`` padding), batch-norm and an optional activation."""

    def __init__(
        self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, activation: str | None = None
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = make_activation(activation) if activation else nn.Identity()


class SqueezeExcite(nn.Module):
    """A sigmoid gate per channel from the pooled features, through a squeeze of ``squeeze`` channels.

    ``style`` is the convention (:data:`designer.core.blocks.SE_STYLES`): ``efficientnet`` uses
    biased convs and ``activation``; ``deepmad`` convs with batch-norm and SiLU.
    """

    def __init__(self, channels: int, squeeze: int, activation: str, style: str = "efficientnet") -> None:
        super().__init__()
        self.reduce: nn.Module
        self.act: nn.Module
        self.expand: nn.Module
        if style == "deepmad":
            self.reduce = ConvNormAct(channels, squeeze, 1, activation="silu")
            self.act = nn.Identity()
            self.expand = ConvNormAct(squeeze, channels, 1)
        else:
            self.reduce = nn.Conv2d(channels, squeeze, 1)
            self.act = make_activation(activation)
            self.expand = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(gate))))


class ResidualBlock(nn.Module):
    """A block of a registered family: built from its shape and the network's activation."""

    def __init__(self, shape: BlockShape, activation: str) -> None:
        super().__init__()

    def residual_branch_end(self) -> ConvNormAct | None:
        """The conv whose output the residual add follows (None: the block has no residual)."""
        raise NotImplementedError


MODULES: dict[str, type[ResidualBlock]] = {}


def register_module(family: str) -> Callable[[type[ResidualBlock]], type[ResidualBlock]]:
    """Register a block module as the one of ``family`` (a name of :mod:`designer.core.blocks`)."""
    get_family(family)

    def register(cls: type[ResidualBlock]) -> type[ResidualBlock]:
        MODULES[family] = cls
        return cls

    return register


def block_module(family: str, shape: BlockShape, activation: str) -> ResidualBlock:
    return MODULES[get_family(family).name](shape, activation)


def _shortcut(shape: BlockShape) -> nn.Module:
    if shape.stride != 1 or shape.cin != shape.width:
        return ConvNormAct(int(shape.cin), int(shape.width), 1, shape.stride)
    return nn.Identity()


@register_module("basic")
class BasicBlock(ResidualBlock):
    def __init__(self, shape: BlockShape, activation: str) -> None:
        super().__init__(shape, activation)
        cin, width, kernel = int(shape.cin), int(shape.width), int(shape.kernel)
        self.conv1 = ConvNormAct(cin, width, kernel, shape.stride, activation=activation)
        self.conv2 = ConvNormAct(width, width, kernel)
        self.shortcut = _shortcut(shape)
        self.act = make_activation(activation)

    def residual_branch_end(self) -> ConvNormAct | None:
        return self.conv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)) + self.shortcut(x))


@register_module("bottleneck")
class Bottleneck(ResidualBlock):
    def __init__(self, shape: BlockShape, activation: str) -> None:
        super().__init__(shape, activation)
        cin, width, kernel = int(shape.cin), int(shape.width), int(shape.kernel)
        inner = int(get_family("bottleneck").inner_width(shape))
        self.conv1 = ConvNormAct(cin, inner, 1, activation=activation)
        self.conv2 = ConvNormAct(inner, inner, kernel, shape.stride, activation=activation)
        self.conv3 = ConvNormAct(inner, width, 1)
        self.shortcut = _shortcut(shape)
        self.act = make_activation(activation)

    def residual_branch_end(self) -> ConvNormAct | None:
        return self.conv3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv3(self.conv2(self.conv1(x))) + self.shortcut(x))


@register_module("mbv2")
class InvertedResidual(ResidualBlock):
    def __init__(self, shape: BlockShape, activation: str) -> None:
        super().__init__(shape, activation)
        cin, width, kernel = int(shape.cin), int(shape.width), int(shape.kernel)
        hidden = int(get_family("mbv2").inner_width(shape))
        expand = hidden != cin if shape.expand is None else bool(shape.expand)
        self.expand = ConvNormAct(cin, hidden, 1, activation=activation) if expand else nn.Identity()
        self.dwconv = ConvNormAct(hidden, hidden, kernel, shape.stride, groups=hidden, activation=activation)
        squeeze = int(se_squeeze(cin, hidden, shape.se_style))
        self.se = SqueezeExcite(hidden, squeeze, activation, shape.se_style) if shape.se else nn.Identity()
        self.project = ConvNormAct(hidden, width, 1)
        self.residual = shape.stride == 1 and cin == width

    def residual_branch_end(self) -> ConvNormAct | None:
        return self.project if self.residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.se(self.dwconv(self.expand(x))))
        return out + x if self.residual else out
