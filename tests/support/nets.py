"""PyTorch helpers: counting a module's MACs and parameters, and a module factory for ``analyze``."""

from __future__ import annotations

import torch
from torch import nn

from designer.core.reference import reference_spec
from designer.nn.model import build_model


def count_module(model: nn.Module, resolution: int, in_channels: int = 3) -> tuple[int, int]:
    """MACs of convs and linears (counted by forward hooks) and the parameter count."""
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        else:
            k = module.kernel_size[0] * module.kernel_size[1]
            total += module.in_channels // module.groups * k * output.shape[1] * output.shape[2] * output.shape[3]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, in_channels, resolution, resolution))
    for handle in handles:
        handle.remove()
    return total, sum(p.numel() for p in model.parameters())


def small_resnet() -> nn.Module:
    """A module factory for ``designer analyze package.module:factory``."""
    return build_model(reference_spec("resnet18", 64, 10))
