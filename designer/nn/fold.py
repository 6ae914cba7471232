"""Fold batch-norm into the preceding convolution, the form every inference runtime wants."""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from designer.nn.modules import ConvNormAct


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` whose ``ConvNormAct`` batch-norms are folded into biased convs."""
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if isinstance(module, ConvNormAct) and isinstance(module.bn, nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(module.conv, module.bn)
            module.add_module("bn", nn.Identity())
    return folded
