"""Analyze any ``torch.nn.Module`` by running it once and walking its convolutions.

Layer roles follow ``designer.core.entropy``: a linear layer is the classifier; a conv whose input
is 1x1 spatially is part of an SE gate; a conv whose qualified name contains ``downsample``,
``shortcut`` or ``skip`` is a projection shortcut (torchvision's and timm's naming); every
other conv is a main layer. Main layers are grouped into blocks as the children of the
outermost ``nn.Sequential`` that holds them (a torchvision ResNet's ``layer2.0``, a
MobileNetV2's ``features.3``), and a block belongs to the stage of its lowest output
resolution, as for specs.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from designer.core.analysis import Analysis
from designer.core.entropy import DEFAULT_ALPHA, entropy_report
from designer.core.errors import DesignerError
from designer.core.structure import MainLayer

SHORTCUT_NAMES = ("downsample", "shortcut", "skip")


def load_module(target: str) -> nn.Module:
    """Build a module from ``package.module:factory`` (called with no arguments)."""
    module_name, _, factory_name = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as error:
        raise DesignerError(f"cannot load {target!r} ({error}); give package.module:factory") from None
    model = factory()
    if not isinstance(model, nn.Module):
        raise DesignerError(f"{target!r} did not return a torch.nn.Module")
    return model


def _block_of(name: str, sequential_paths: set[str]) -> str:
    """The child of the outermost ``nn.Sequential`` holding ``name`` (or ``name`` itself)."""
    parts = name.split(".")
    for depth in range(len(parts)):
        if ".".join(parts[:depth]) in sequential_paths:
            return ".".join(parts[: depth + 1])
    return name


def analyze_module(
    model: nn.Module,
    resolution: int = 224,
    in_channels: int = 3,
    alpha: Sequence[float] = DEFAULT_ALPHA,
    name: str = "",
) -> Analysis:
    records: list[dict[str, Any]] = []
    handles = []
    for qualified, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):

            def hook(
                mod: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor, qualified: str = qualified
            ) -> None:
                records.append({"name": qualified, "module": mod, "input": inputs[0].shape, "output": output.shape})

            handles.append(module.register_forward_hook(hook))
    model.eval()
    try:
        with torch.no_grad():
            model(torch.randn(1, in_channels, resolution, resolution))
    finally:
        for handle in handles:
            handle.remove()
    sequential_paths = {q for q, m in model.named_modules() if isinstance(m, nn.Sequential)}
    flops = 0
    main: list[tuple[str, float, int, int]] = []
    for record in records:
        module = record["module"]
        if isinstance(module, nn.Linear):
            flops += module.in_features * module.out_features
            continue
        out_h, out_w = record["output"][-2:]
        fan_in = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        flops += fan_in * module.out_channels * out_h * out_w
        se = tuple(record["input"][-2:]) == (1, 1)
        shortcut = any(word in record["name"] for word in SHORTCUT_NAMES)
        if not se and not shortcut:
            main.append((_block_of(record["name"], sequential_paths), float(fan_in), int(out_h), module.out_channels))
    lowest: dict[str, int] = {}
    for block, _, res, _ in main:
        lowest[block] = min(res, lowest.get(block, res))
    layers = [MainLayer(width, lowest[block], channels) for block, width, _, channels in main]
    report = entropy_report(layers, alpha)
    params = sum(p.numel() for p in model.parameters())
    return Analysis(name=name or type(model).__name__, params=params, flops=int(flops), report=report)
