"""Crop boxes of image files: torchvision's RandomResizedCrop for training, the centre for evaluation.

A box is ``(top, left, height, width)`` in the pixels of the whole image; the box is later resized
to the network's resolution (on the GPU or with Pillow). Training boxes are drawn on the CPU before
decoding, from a generator seeded by ``(seed, epoch, image index)``, so an image's crop depends on
nothing else: not on the worker process that reads it, the number of training processes, the
decoder, or a resume.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

Box = tuple[int, int, int, int]
RATIO = (3 / 4, 4 / 3)
ATTEMPTS = 10


def random_resized_box(
    width: int, height: int, scale: tuple[float, float], ratio: tuple[float, float], rng: random.Random
) -> Box:
    """torchvision's ``RandomResizedCrop.get_params`` on a ``width`` x ``height`` image.

    Up to ten tries of an area fraction uniform in ``scale`` and an aspect ratio (width / height)
    log-uniform in ``ratio``; the first box that fits the image is placed uniformly at random. If
    none fits, the centre of the image, cut to the nearest aspect ratio inside ``ratio``.
    """
    area = width * height
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(ATTEMPTS):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_low, log_high))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    if width / height < min(ratio):
        w, h = width, round(width / min(ratio))
    elif width / height > max(ratio):
        w, h = round(height * max(ratio)), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def centre_box(width: int, height: int, fraction: float) -> Box:
    """The centre square whose side is ``fraction`` of the shorter side.

    Resized to the resolution R, it is the evaluation crop of the recipe: shorter side resized to
    R / fraction, centre R x R.
    """
    side = max(1, round(min(width, height) * fraction))
    return (height - side) // 2, (width - side) // 2, side, side


@dataclass(frozen=True)
class RandomCrop:
    """Training crops: :func:`random_resized_box` seeded by the run's seed, the epoch and the image."""

    scale: tuple[float, float]
    seed: int = 0
    ratio: tuple[float, float] = RATIO

    def box(self, width: int, height: int, epoch: int, index: int) -> Box:
        rng = random.Random((self.seed % 2**64) << 96 | epoch << 48 | index)  # distinct for epochs, images < 2**48
        return random_resized_box(width, height, self.scale, self.ratio, rng)


@dataclass(frozen=True)
class CentreCrop:
    """Evaluation crops: :func:`centre_box`, the same every epoch."""

    fraction: float

    def box(self, width: int, height: int, epoch: int, index: int) -> Box:
        return centre_box(width, height, self.fraction)


Cropper = RandomCrop | CentreCrop
