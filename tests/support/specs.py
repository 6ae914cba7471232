"""Small specs and networks for tests that build, train or export them."""

from __future__ import annotations

import torch
from torch import nn

from designer.core.blocks import get_family
from designer.core.spec import ArchSpec, StageSpec, StemSpec
from designer.nn.model import build_model


def tiny_family_spec(family: str) -> ArchSpec:
    """Two stages of ``family`` (a projection shortcut and identity blocks) at 32x32, with SE and a
    head conv where the family has them."""
    block = get_family(family)

    def stage(width: int, depth: int, kernel: int) -> StageSpec:
        return StageSpec(family, width, depth, 2, kernel, se=block.has_se, **block.stage_fields(width, 3))

    stages = (stage(24, 2, 3), stage(32, 1, block.kernel))
    head = 48 if block.head_width else None
    return ArchSpec(resolution=32, stem=StemSpec(16), stages=stages, head_width=head, num_classes=10, name=family)


def trained_like(spec: ArchSpec, seed: int = 0) -> nn.Module:
    """A network with non-trivial batch-norm statistics and affine parameters, as after training."""
    torch.manual_seed(seed)
    model = build_model(spec)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.uniform_(module.bias, -0.2, 0.2)
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.1)
    return model.eval()


def tiny_spec(classes: int = 3, channels: int = 3, resolution: int = 16, name: str = "tiny") -> ArchSpec:
    """A two-block network small enough to train in a test."""
    return ArchSpec(
        resolution=resolution,
        stem=StemSpec(width=8),
        stages=(StageSpec(block="basic", width=16, depth=1), StageSpec(block="basic", width=16, depth=1, stride=1)),
        num_classes=classes,
        in_channels=channels,
        name=name,
    )
