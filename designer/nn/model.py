"""Build an ``nn.Module`` from an :class:`~designer.core.spec.ArchSpec`."""

from __future__ import annotations

import os

import torch
from torch import nn

from designer.core.errors import DesignerError
from designer.core.layers import total_params
from designer.core.spec import ArchSpec
from designer.core.structure import arch_layers, iter_blocks
from designer.core.units import format_count
from designer.nn.modules import ConvNormAct, ResidualBlock, block_module


class DesignedNet(nn.Module):
    """Stem, stages of blocks, optional 1x1 head conv, global average pool, classifier."""

    def __init__(self, spec: ArchSpec, dropout: float = 0.0) -> None:
        super().__init__()
        self.spec = spec
        act = spec.activation
        stem: list[nn.Module] = [
            ConvNormAct(spec.in_channels, spec.stem.width, spec.stem.kernel, spec.stem.stride, activation=act)
        ]
        if spec.stem.pool:
            stem.append(nn.MaxPool2d(3, 2, 1))
        self.stem = nn.Sequential(*stem)
        stages: list[list[nn.Module]] = [[] for _ in spec.stages]
        for block in iter_blocks(spec):
            stages[block.stage].append(block_module(block.family.name, block.shape, act))
        self.stages = nn.Sequential(*(nn.Sequential(*blocks) for blocks in stages))
        width = spec.stages[-1].width
        self.head = ConvNormAct(width, spec.head_width, 1, activation=act) if spec.head_width else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(spec.head_width or width, spec.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)
        for block in self.stages.modules():
            end = block.residual_branch_end() if isinstance(block, ResidualBlock) else None
            if end is not None:
                # every residual block starts as its shortcut, so deep designs stay finite at init
                nn.init.zeros_(end.bn.weight)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.pool(self.forward_features(x)).flatten(1)
        return self.classifier(self.dropout(features))


def build_model(spec: ArchSpec, dropout: float = 0.0) -> DesignedNet:
    """The spec's network in float32; a :class:`DesignerError` if its weights cannot fit in memory."""
    params = int(total_params(arch_layers(spec)))
    memory = _physical_memory()
    if params * 4 > memory:
        raise DesignerError(
            f"{spec.name or 'the network'} has {format_count(params)} parameters ({params * 4 / 2**30:,.0f} GiB in "
            f"float32), more than this machine's {memory / 2**30:,.0f} GiB of memory; check its widths and depths"
        )
    try:
        return DesignedNet(spec, dropout)
    except (RuntimeError, MemoryError) as error:
        if isinstance(error, RuntimeError) and "allocate" not in str(error):
            raise
        raise DesignerError(
            f"not enough memory for the {format_count(params)} parameters of {spec.name or 'the network'}; "
            "free memory or design a smaller network"
        ) from None


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit known
        return 1 << 62
