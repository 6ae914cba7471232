"""The PyTorch modules that an op and a whole network run as when they are timed.

An op's module is exactly what :class:`designer.nn.model.DesignedNet` runs for that layer once
batch-norm is folded into the conv (a conv with bias), so that the sum of the ops of a
network is the network: conv, then the residual add, then the activation, as the blocks do.
"""

from __future__ import annotations

import torch
from torch import nn

from designer.core.spec import ArchSpec
from designer.nn.modules import SqueezeExcite, make_activation
from latency.predict.ops import OpKey, base_kind, has_act, has_add


class ConvOp(nn.Module):
    """Conv with bias (depthwise when ``groups == cin``), optional residual add, optional activation."""

    def __init__(self, key: OpKey, activation: str) -> None:
        super().__init__()
        groups = key.cin if base_kind(key.kind) == "dwconv" else 1
        self.conv = nn.Conv2d(key.cin, key.cout, key.kernel, key.stride, key.kernel // 2, groups=groups, bias=True)
        self.act = make_activation(activation) if has_act(key.kind) else nn.Identity()

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        y = self.conv(x)
        if residual is not None:
            y = y + residual
        return self.act(y)


class GlobalPool(nn.Module):
    """Global average pool and flatten, as the network's head does."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x).flatten(1)


def op_module(key: OpKey, activation: str) -> nn.Module:
    base = base_kind(key.kind)
    if base in ("conv", "dwconv"):
        return ConvOp(key, activation)
    if key.kind == "se":
        return SqueezeExcite(key.cin, key.cout, activation)
    if key.kind == "maxpool":
        return nn.MaxPool2d(3, 2, 1)
    if key.kind == "avgpool":
        return GlobalPool()
    return nn.Linear(key.cin, key.cout)


def network_input_shapes(spec: ArchSpec, batch: int) -> list[tuple[int, ...]]:
    """Shape of a network's one input: a batch of images."""
    return [(batch, spec.in_channels, spec.resolution, spec.resolution)]


def op_input_shapes(key: OpKey, batch: int) -> list[tuple[int, ...]]:
    """Shapes of the op's inputs: the feature map, and the residual for ``*_add`` kinds."""
    if key.kind == "linear":
        return [(batch, key.cin)]
    shapes: list[tuple[int, ...]] = [(batch, key.cin, key.res, key.res)]
    if has_add(key.kind):
        res_out = (key.res + key.stride - 1) // key.stride
        shapes.append((batch, key.cout, res_out, res_out))
    return shapes


def random_inputs(shapes: list[tuple[int, ...]], dtype: torch.dtype, device: str, seed: int = 0) -> list[torch.Tensor]:
    """Standard-normal inputs (never all zeros) drawn on ``device``, channels-last where 4-D."""
    generator = torch.Generator(device=device).manual_seed(seed)
    tensors = []
    for shape in shapes:
        tensor = torch.randn(shape, generator=generator, device=device).to(dtype)
        if tensor.dim() == 4:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        tensors.append(tensor)
    return tensors


def network_module(spec: ArchSpec) -> nn.Module:
    """The designed network as inference runs it: random weights that keep a trained network's
    activation scale (:func:`~designer.nn.calibrate.untrained_network`), batch-norm folded."""
    from designer.nn.calibrate import untrained_network
    from designer.nn.fold import fold_batchnorm

    return fold_batchnorm(untrained_network(spec))
