"""Crop boxes: the statistics of torchvision's RandomResizedCrop, its fallback, seeding, the evaluation crop."""

from __future__ import annotations

import math
import pickle
import random

import numpy as np
import pytest
import torch
from scipy import stats

from train.crops import RATIO, CentreCrop, RandomCrop, centre_box, random_resized_box

SAMPLES = 20_000


def boxes(width: int, height: int, scale: tuple[float, float], seed: int = 0, count: int = SAMPLES) -> np.ndarray:
    rng = random.Random(seed)
    return np.array([random_resized_box(width, height, scale, RATIO, rng) for _ in range(count)])


def reference_boxes(width: int, height: int, scale: tuple[float, float], seed: int = 1) -> np.ndarray:
    """The RandomResizedCrop specification, vectorised: ten tries of (area, aspect), the first that fits."""
    rng = np.random.default_rng(seed)
    area = width * height * rng.uniform(*scale, (SAMPLES, 10))
    aspect = np.exp(rng.uniform(math.log(RATIO[0]), math.log(RATIO[1]), (SAMPLES, 10)))
    w, h = np.round(np.sqrt(area * aspect)), np.round(np.sqrt(area / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.argmax(1)
    w, h = w[np.arange(SAMPLES), first], h[np.arange(SAMPLES), first]
    top, left = np.floor(rng.random(SAMPLES) * (height - h + 1)), np.floor(rng.random(SAMPLES) * (width - w + 1))
    aspect = np.clip(width / height, *RATIO)  # no try fits: the centre, cut to the nearest ratio in range
    fallback_h, fallback_w = min(height, round(width / aspect)), min(width, round(height * aspect))
    none = ~fits.any(1)
    h[none], w[none] = fallback_h, fallback_w
    top[none], left[none] = (height - fallback_h) // 2, (width - fallback_w) // 2
    return np.stack([top, left, h, w], 1)


def similar(a: np.ndarray, b: np.ndarray) -> bool:
    return stats.ks_2samp(a, b).pvalue > 1e-3


@pytest.mark.parametrize("width, height", [(500, 375), (375, 500), (256, 256), (1000, 300)])
def test_training_boxes_follow_random_resized_crop(width, height):
    ours, reference = boxes(width, height, (0.08, 1.0)), reference_boxes(width, height, (0.08, 1.0))
    top, left, h, w = ours.T
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= height).all() and (left + w <= width).all()
    area = h * w / (width * height)
    assert area.min() > 0.08 * 0.9 and area.max() <= 1.0  # within the scale range, up to rounding
    for column in range(4):  # top, left, height, width
        assert similar(ours[:, column], reference[:, column])
    assert similar(area, reference[:, 2] * reference[:, 3] / (width * height))


def test_area_and_log_aspect_are_uniform_when_every_try_fits():
    side = 1000  # the largest box of scale 0.3 and ratio 4/3 is 632 px: every first try fits
    top, left, h, w = boxes(side, side, (0.08, 0.3)).T
    area = h * w / side**2
    assert stats.kstest(area, stats.uniform(0.08, 0.22).cdf).pvalue > 1e-3
    log_aspect = np.log(w / h)
    low, high = math.log(RATIO[0]), math.log(RATIO[1])
    assert log_aspect.min() > low - 0.01 and log_aspect.max() < high + 0.01
    assert stats.kstest(log_aspect, stats.uniform(low, high - low).cdf).pvalue > 1e-3
    position = (left + 0.5) / (side - w + 1)  # uniform over the places the box fits
    assert stats.kstest(position, stats.uniform(0, 1).cdf).pvalue > 1e-3


@pytest.mark.parametrize(
    "width, height, scale, expected",
    [
        (1000, 50, (0.08, 1.0), (0, 466, 50, 67)),  # too wide for any try: centre, cut to ratio 4/3
        (50, 1000, (0.08, 1.0), (466, 0, 67, 50)),  # too tall: centre, cut to ratio 3/4
        (300, 300, (1.0, 1.0), (0, 0, 300, 300)),  # the whole area: the whole image, found or fallen back to
    ],
)
def test_fallback_is_the_centre_cut_to_the_ratio_range(width, height, scale, expected):
    rng = random.Random(0)
    found = {random_resized_box(width, height, scale, RATIO, rng) for _ in range(200)}
    assert found == {expected}


def test_training_crops_are_seeded_by_seed_epoch_and_image():
    crop = RandomCrop((0.08, 1.0), seed=3)
    assert crop.box(500, 375, 2, 17) == RandomCrop((0.08, 1.0), seed=3).box(500, 375, 2, 17)
    assert pickle.loads(pickle.dumps(crop)) == crop  # travels to worker processes
    by_epoch = {crop.box(500, 375, epoch, 17) for epoch in range(20)}
    by_image = {crop.box(500, 375, 2, index) for index in range(20)}
    by_seed = {RandomCrop((0.08, 1.0), seed=seed).box(500, 375, 2, 17) for seed in range(20)}
    assert min(len(by_epoch), len(by_image), len(by_seed)) >= 19


def test_evaluation_crop_is_the_centre_square():
    assert centre_box(500, 375, 0.875) == (23, 86, 328, 328)  # 375 * 0.875 = 328.1
    assert centre_box(300, 400, 1.0) == (50, 0, 300, 300)
    assert CentreCrop(0.5).box(10, 10, epoch=4, index=9) == (2, 2, 5, 5)


def test_boxes_match_torchvision_random_resized_crop():
    transforms = pytest.importorskip("torchvision.transforms", exc_type=ImportError)
    torch.manual_seed(0)
    for width, height in ((500, 375), (1000, 300)):
        image = torch.empty(3, height, width)
        theirs = np.array(
            [transforms.RandomResizedCrop.get_params(image, [0.08, 1.0], list(RATIO)) for _ in range(SAMPLES)]
        )
        ours = boxes(width, height, (0.08, 1.0))
        assert all(similar(ours[:, column], theirs[:, column]) for column in range(4))
