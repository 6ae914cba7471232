"""SGD with Nesterov momentum and the per-step warm-up, cosine, cool-down learning-rate schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from train.recipe import TrainConfig


@dataclass
class WarmupCosine:
    """Learning-rate factor at optimizer step ``step``: a linear ramp over ``warmup`` steps, a
    half cosine from 1 down to ``floor`` that ends ``cooldown`` steps before ``total``, then ``floor``."""

    warmup: int
    total: int
    cooldown: int
    floor: float

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        decay = max(self.total - self.cooldown - self.warmup, 1)
        progress = min((step - self.warmup) / decay, 1.0)
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))


def peak_lr(config: TrainConfig) -> float:
    return config.lr * config.batch_size / 256


def build_optimizer(
    model: nn.Module, config: TrainConfig, steps_per_epoch: int
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.LambdaLR]:
    """Weight decay applies to conv and linear weights only, not to norm parameters or biases."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    peak = peak_lr(config)
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=peak,
        momentum=config.momentum,
        nesterov=config.nesterov and config.momentum > 0,
    )
    schedule = WarmupCosine(
        warmup=round(config.warmup_epochs * steps_per_epoch),
        total=config.epochs * steps_per_epoch,
        cooldown=round(config.cooldown_epochs * steps_per_epoch),
        floor=min(config.min_lr / peak, 1.0),
    )
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
