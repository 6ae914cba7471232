"""Untrained networks that run like trained ones: batch-norm scales drawn afresh and
statistics set from data, so that activations keep a trained network's scale."""

from __future__ import annotations

import torch
from torch import nn

from designer.core.spec import ArchSpec
from designer.nn.model import DesignedNet, build_model

CALIBRATION_BATCH = 8
"""Images in the random batch that sets an untrained network's batch-norm statistics."""


def calibrate_batchnorm(model: nn.Module, inputs: torch.Tensor) -> nn.Module:
    """Set every batch-norm's running statistics to those of ``inputs`` passed through ``model``.

    Each batch-norm then normalises what reaches it, as a trained network's do. Left at their
    initial values (mean 0, variance 1), folded batch-norms let activations shrink or grow stage
    by stage, far from a trained network's, and a GPU's speed can depend on the data (fp16
    values below 6.1e-5 are subnormal; above 65,504 they overflow). Returns ``model``, in eval mode.
    """
    norms = [module for module in model.modules() if isinstance(module, nn.BatchNorm2d)]
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


def untrained_network(spec: ArchSpec, seed: int = 0) -> DesignedNet:
    """The spec's network with random weights that runs as a trained one would, in eval mode.

    Batch-norm scales are drawn from [0.5, 1.5]: the network zero-initialises the last one of
    each residual branch (for training), which would leave that branch's folded conv all zeros,
    and zeros can run faster than real weights do. Their statistics are then set from a seeded
    standard-normal batch (:func:`calibrate_batchnorm`). Built and calibrated on the default device.
    """
    model = build_model(spec)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.weight, 0.5, 1.5)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    shape = (CALIBRATION_BATCH, spec.in_channels, spec.resolution, spec.resolution)
    calibrate_batchnorm(model, torch.randn(shape, generator=generator, device=device))
    return model
