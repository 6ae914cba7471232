"""Batched augmentation on the training device with kornia: uint8 batch in, network input out.

Training: random resized crop to the spec's resolution (for in-memory data sets; image files
arrive cropped, see :mod:`train.crops`), horizontal flip, AutoAugment or RandAugment,
normalisation, random erasing, then mixup or cutmix. Evaluation: resize to the resolution (image
files arrive centre-cropped at it), normalise. Kornia draws its random parameters from torch's
global CPU generator, so a seeded (and, on resume, restored) generator reproduces every batch on
any device.

Kornia picks a policy's operations once per call, for the whole batch; policies therefore run on
groups of :data:`POLICY_GROUP` images so that a batch sees many operation choices. Colour
operations need three channels: single-channel images pass through them replicated and come
back averaged.
"""

from __future__ import annotations

from collections.abc import Sequence

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from kornia.augmentation.auto import AutoAugment, RandAugment
from torch import nn

from train.recipe import TrainConfig

POLICY_GROUP = 32
LUMA = (0.299, 0.587, 0.114)


def to_float(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (B, C, H, W) as float in [0, 1] with ``channels`` channels (grey replicated, RGB to luma)."""
    x = images.float().div_(255)
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1:
        return x.expand(-1, channels, -1, -1)
    if x.shape[1] == 3 and channels == 1:
        return (x * x.new_tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    raise ValueError(f"cannot map {x.shape[1]} image channels to {channels}")


def adapt_stats(values: Sequence[float], channels: int) -> tuple[float, ...]:
    """Per-channel normalisation statistics of the data, mapped like :func:`to_float` maps images."""
    if len(values) == channels:
        return tuple(values)
    if len(values) == 1:
        return tuple(values) * channels
    return (sum(w * v for w, v in zip(LUMA, values)),)


def _memory_format(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


class EvalTransform(nn.Module):
    """Resize to ``resolution`` (if the images are not that size already), normalise."""

    def __init__(
        self, resolution: int, channels: int, mean: Sequence[float], std: Sequence[float], channels_last: bool = False
    ) -> None:
        super().__init__()
        self.resolution, self.channels, self.channels_last = resolution, channels, channels_last
        self.normalize = K.Normalize(torch.tensor(mean), torch.tensor(std))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = to_float(images, self.channels)
        if x.shape[-2:] != (self.resolution, self.resolution):
            x = F.interpolate(x, size=(self.resolution,) * 2, mode="bilinear", antialias=True, align_corners=False)
        return _memory_format(self.normalize(x), self.channels_last)


class TrainTransform(nn.Module):
    """The recipe's augmentation and mixing; returns the input and the targets for the loss.

    Targets are the labels for an unmixed batch and class probabilities for a mixed one (both
    are valid ``F.cross_entropy`` targets, label smoothing included). ``crop=False`` leaves out
    the random resized crop, for images the loader has cropped to ``resolution`` already.
    """

    def __init__(
        self,
        config: TrainConfig,
        resolution: int,
        channels: int,
        mean: Sequence[float],
        std: Sequence[float],
        classes: int,
        crop: bool = True,
    ) -> None:
        super().__init__()
        self.config, self.channels, self.classes = config, channels, classes
        self.crop = (
            K.RandomResizedCrop((resolution, resolution), scale=config.crop_scale, cropping_mode="resample")
            if crop
            else None
        )
        self.flip = K.RandomHorizontalFlip(p=config.hflip) if config.hflip > 0 else None
        self.policy: nn.Module | None = None
        if config.policy == "autoaugment":
            self.policy = AutoAugment("imagenet")
        elif config.policy == "randaugment":
            self.policy = RandAugment(n=config.randaugment_n, m=config.randaugment_m)
        self.normalize = K.Normalize(torch.tensor(mean), torch.tensor(std))
        self.erase = K.RandomErasing(p=config.random_erasing) if config.random_erasing > 0 else None
        self.cutmix = (
            K.RandomCutMixV2(beta=config.cutmix, use_correct_lambda=True, data_keys=["input", "class"])
            if config.cutmix > 0
            else None
        )

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = to_float(images, self.channels)
        if self.crop is not None:
            x = self.crop(x)
        if self.flip is not None:
            x = self.flip(x)
        if self.policy is not None:
            x = torch.cat([self._policy(group) for group in x.split(POLICY_GROUP)])
        x = self.normalize(x)
        if self.erase is not None:
            x = self.erase(x)
        x, targets = self._mix(x, labels)
        return _memory_format(x, self.config.channels_last), targets

    def _policy(self, x: torch.Tensor) -> torch.Tensor:
        assert self.policy is not None
        if x.shape[1] == 3:
            return self.policy(x)
        return self.policy(x.expand(-1, 3, -1, -1)).mean(1, keepdim=True)

    def _mix(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mixup (weight ~ Beta(alpha, alpha), one per batch) or kornia's cutmix (one box per image)."""
        config = self.config
        if (config.mixup == 0 and config.cutmix == 0) or float(torch.rand(())) >= config.mix_prob:
            return x, labels
        if self.cutmix is not None and (config.mixup == 0 or float(torch.rand(())) < config.mix_switch):
            x, mixed = self.cutmix(x, labels)
            first, second, keep = mixed[0].unbind(-1)  # keep: the weight of the image's own label
            first, second, keep = first.long(), second.long(), keep[:, None]
        else:
            alpha = torch.tensor(float(config.mixup))
            keep = torch.distributions.Beta(alpha, alpha).sample().to(x.device)
            pairs = torch.randperm(len(x)).to(x.device)
            x = x * keep + x[pairs] * (1 - keep)
            first, second = labels, labels[pairs]
        targets = F.one_hot(first, self.classes) * keep + F.one_hot(second, self.classes) * (1 - keep)
        return x, targets.float()
