"""Expand a spec into its blocks and layers, tracking widths and resolutions through the net."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from designer.blocks import BlockFamily, BlockShape, get_block
from designer.layers import Layer
from designer.spec import ArchSpec


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


def out_res(res: int, stride: int) -> int:
    return (res + stride - 1) // stride


def stem_layers(spec: ArchSpec) -> list[Layer]:
    stem = spec.stem
    layers = [Layer("conv", "main", spec.in_channels, stem.width, spec.resolution, stem.kernel, stem.stride)]
    if stem.pool:
        layers.append(Layer("pool", "pool", stem.width, stem.width, layers[0].res_out, 3, 2, norm=False))
    return layers


def stem_output_res(spec: ArchSpec) -> int:
    return int(stem_layers(spec)[-1].res_out)


def iter_blocks(spec: ArchSpec) -> Iterator[PlacedBlock]:
    cin, res = spec.stem.width, stem_output_res(spec)
    for stage_index, stage in enumerate(spec.stages):
        family = get_block(stage.block)
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
    cin, res = body_output(spec)
    layers = []
    if spec.head_width is not None:
        layers.append(Layer("conv", "main", cin, spec.head_width, res, 1, 1))
        cin = spec.head_width
    layers.append(Layer("pool", "pool", cin, cin, res, res, res, norm=False))
    layers.append(Layer("linear", "classifier", cin, spec.num_classes, 1, norm=False, bias=True))
    return layers


def arch_layers(spec: ArchSpec) -> list[Layer]:
    """Every layer of the network in execution order (shortcut convs after their block's main path)."""
    layers = stem_layers(spec)
    for block in iter_blocks(spec):
        layers.extend(layer for layer in block.family.layers(block.shape) if layer.present)
    return layers + head_layers(spec)


def main_layers(spec: ArchSpec) -> list[MainLayer]:
    """The main conv layers with their entropy-stage assignment (see ``designer.entropy``)."""
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
