"""Expand a spec into its blocks and layers, tracking widths and resolutions through the net."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from designer.core.blocks import BlockFamily, BlockShape, get_family
from designer.core.layers import Int, Layer, out_res
from designer.core.spec import ArchSpec


@dataclass(frozen=True)
class PlacedBlock:
    stage: int
    index: int
    family: BlockFamily
    shape: BlockShape
    res_out: int


class MainLayer(NamedTuple):
    """A main conv layer as entropy sees it: its width and the stage it closes into.

    ``res`` is the output resolution of the block the layer belongs to (a block's layers
    all belong to the stage the block ends in), ``channels`` the layer's output channels.
    """

    width: float
    res: int
    channels: int


def stem_block(in_channels: int, width: Int, resolution: int, kernel: int, stride: int, pool: bool) -> list[Layer]:
    """The stem conv and, with ``pool``, ResNet's 3x3 stride-2 max-pool (``width`` may be an array)."""
    layers = [Layer("conv", "main", in_channels, width, resolution, kernel, stride)]
    if pool:
        layers.append(Layer("pool", "pool", width, width, layers[0].res_out, 3, 2, norm=False))
    return layers


def head_block(channels: Int, res: int, head_width: int | None, num_classes: int) -> list[Layer]:
    """The optional 1x1 head conv, global pooling and the classifier, fed ``channels`` at ``res``."""
    layers = []
    if head_width is not None:
        layers.append(Layer("conv", "main", channels, head_width, res, 1, 1))
        channels = head_width
    layers.append(Layer("pool", "pool", channels, channels, res, res, res, norm=False))
    layers.append(Layer("linear", "classifier", channels, num_classes, 1, norm=False, bias=True))
    return layers


def stem_layers(spec: ArchSpec) -> list[Layer]:
    stem = spec.stem
    return stem_block(spec.in_channels, stem.width, spec.resolution, stem.kernel, stem.stride, stem.pool)


def stem_output_res(spec: ArchSpec) -> int:
    return int(stem_layers(spec)[-1].res_out)


def iter_blocks(spec: ArchSpec) -> Iterator[PlacedBlock]:
    cin, res = spec.stem.width, stem_output_res(spec)
    for stage_index, stage in enumerate(spec.stages):
        family = get_family(stage.block)
        for block_index in range(stage.depth):
            stride = stage.stride if block_index == 0 else 1
            shape = BlockShape(
                cin=cin,
                width=stage.width,
                stride=stride,
                res_in=res,
                kernel=stage.kernel,
                inner=stage.inner,
                expansion=stage.expansion,
                se=stage.se,
                se_style=stage.se_style,
            )
            res_next = out_res(res, stride)
            yield PlacedBlock(stage_index, block_index, family, shape, res_next)
            cin, res = stage.width, res_next


def body_output(spec: ArchSpec) -> tuple[int, int]:
    """Channels and resolution after the last block (before the head)."""
    return spec.stages[-1].width, final_block_res(spec)


def final_block_res(spec: ArchSpec) -> int:
    res = stem_output_res(spec)
    for stage in spec.stages:
        res = out_res(res, stage.stride)
    return res


def head_layers(spec: ArchSpec) -> list[Layer]:
    return head_block(*body_output(spec), spec.head_width, spec.num_classes)


def arch_layers(spec: ArchSpec) -> list[Layer]:
    """Every layer of the network in execution order (shortcut convs after their block's main path)."""
    layers = stem_layers(spec)
    for block in iter_blocks(spec):
        layers.extend(layer for layer in block.family.layers(block.shape) if layer.present)
    return layers + head_layers(spec)


def main_layers(spec: ArchSpec) -> list[MainLayer]:
    """The main conv layers with their entropy-stage assignment (see ``designer.core.entropy``)."""
    result = []
    stem_conv = stem_layers(spec)[0]
    result.append(MainLayer(float(stem_conv.width), int(stem_conv.res_out), spec.stem.width))
    for block in iter_blocks(spec):
        for layer in block.family.layers(block.shape):
            if layer.is_main and layer.present:
                result.append(MainLayer(float(layer.width), block.res_out, int(layer.cout)))
    for layer in head_layers(spec):
        if layer.is_main:
            result.append(MainLayer(float(layer.width), int(layer.res_in), int(layer.cout)))
    return result
