"""Set batch-norm statistics from data, so that an untrained network's activations keep the
scale a trained one's have."""

from __future__ import annotations

import torch
from torch import nn


def calibrate_batchnorm(model: nn.Module, inputs: torch.Tensor) -> nn.Module:
    """Set every batch-norm's running statistics to those of ``inputs`` passed through ``model``.

    Each batch-norm then normalises what reaches it, as a trained network's do. Left at their
    initial values (mean 0, variance 1), folded batch-norms let activations shrink or grow stage
    by stage, far from a trained network's, and a GPU's speed can depend on the data (fp16
    values below 6.1e-5 are subnormal). Returns ``model``, in eval mode.
    """
    norms = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: after one batch, that batch's statistics
    model.train()
    with torch.no_grad():
        model(inputs)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    return model.eval()
