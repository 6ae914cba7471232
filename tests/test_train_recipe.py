"""The recipe's parts: config validation, learning-rate schedule, optimizer groups, augmentation, mixing."""

from __future__ import annotations

import math

import pytest
import torch
from support.specs import tiny_spec

from designer.core.errors import DesignerError, ParameterError
from designer.core.params import flag
from designer.nn.model import build_model
from train.augment import EvalTransform, TrainTransform, adapt_stats, to_float
from train.optim import WarmupCosine, build_optimizer, peak_lr
from train.recipe import TrainConfig, recipe_differences

PLACES = {"arch": "a.json", "data": "d", "out": "o"}


def config(**changes) -> TrainConfig:
    return TrainConfig(**{**PLACES, **changes})


def test_defaults_are_the_papers_recipe_and_round_trip_through_json():
    recipe = config()
    assert (recipe.epochs, recipe.lr, recipe.momentum, recipe.nesterov) == (480, 0.1, 0.9, True)
    assert (recipe.weight_decay, recipe.label_smoothing, recipe.warmup_epochs) == (5e-5, 0.1, 5.0)
    assert TrainConfig.from_dict(recipe.to_dict()) == recipe
    assert TrainConfig.from_dict({**recipe.to_dict(), "crop_scale": [0.3, 1.0]}).crop_scale == (0.3, 1.0)


def test_resuming_may_change_runtime_settings_only():
    saved = config()
    assert recipe_differences(saved, config(workers=2, progress=False, compile=True, data="elsewhere")) == []
    assert recipe_differences(saved, config(lr=0.2, policy="none")) == [
        "--lr 0.2 (run: 0.1)",
        "--policy none (run: autoaugment)",
    ]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "--epochs must be a whole number of at least 1, got 0"),
        ({"epochs": 2.0}, "--epochs must be a whole number of at least 1, got 2.0"),
        ({"mix_prob": 1.5}, "--mix-prob must be a finite number at least 0 and at most 1"),
        ({"crop_scale": (0.9, 0.2)}, "--crop-scale needs 0 < MIN <= MAX <= 1"),
        ({"epochs": 4, "warmup_epochs": 5}, "exceed --epochs 4"),
        ({"amp": "fp8"}, "--amp 'fp8' is not one of"),
        ({"ema_decay": 1.0}, "--ema-decay must be below 1"),
        ({"warmup_epochs": math.nan}, "--warmup-epochs must be a finite number at least 0, got nan"),
        ({"mixup": math.nan}, "--mixup must be a finite number at least 0, got nan"),
        ({"lr": math.inf}, "--lr must be a finite number above 0, got inf"),
        ({"nesterov": "no"}, "--nesterov must be true or false, got 'no'"),
    ],
)
def test_bad_settings_name_their_flag(changes, message):
    with pytest.raises(ParameterError) as caught:
        config(**changes)
    assert message in caught.value.render(flag)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"learning_rate": 1}, "unknown key(s) learning_rate"),
        ({"epochs": 2.0}, "epochs must be a whole number, got 2.0; write 2"),
        ({"nesterov": "false"}, "nesterov must be true or false"),
        ({"crop_scale": [0.5]}, "crop_scale must be a list of 2 values"),
        ({"arch": 5}, "arch must be a string or an object"),
        ({"mixup": -1}, "mixup must be a finite number at least 0, got -1"),
    ],
)
def test_saved_configs_are_read_strictly(changes, message):
    with pytest.raises(DesignerError) as caught:
        TrainConfig.from_dict({**config().to_dict(), **changes}, "train config c.json")
    assert str(caught.value).startswith("train config c.json") and message in str(caught.value)


def test_schedule_warms_up_decays_by_cosine_and_cools_down():
    schedule = WarmupCosine(warmup=10, total=100, cooldown=20, floor=0.01)
    assert [schedule(s) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert schedule(10) == 1.0
    assert schedule(45) == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 35 / 70)))
    assert schedule(80) == schedule(99) == pytest.approx(0.01)
    values = [schedule(s) for s in range(10, 81)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_optimizer_scales_lr_with_batch_and_skips_decay_of_norms_and_biases():
    recipe = config(batch_size=512, lr=0.1, epochs=10, warmup_epochs=1, weight_decay=1e-4)
    model = build_model(tiny_spec())
    optimizer, scheduler = build_optimizer(model, recipe, steps_per_epoch=5)
    assert peak_lr(recipe) == pytest.approx(0.2)
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 1e-4 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim == 4 or p.ndim == 2 for p in decay["params"]) and all(p.ndim == 1 for p in no_decay["params"])
    assert decay["nesterov"] and decay["momentum"] == 0.9
    assert decay["lr"] == pytest.approx(0.2 / 5)  # first warm-up step
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    assert decay["lr"] == pytest.approx(0.2)


def test_channel_mapping_of_images_and_statistics():
    grey = torch.full((2, 1, 4, 4), 255, dtype=torch.uint8)
    assert torch.equal(to_float(grey, 3), torch.ones(2, 3, 4, 4))
    rgb = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    rgb[:, 0] = 255
    assert torch.allclose(to_float(rgb, 1), torch.full((1, 1, 2, 2), 0.299))
    assert adapt_stats((0.5,), 3) == (0.5, 0.5, 0.5)
    assert adapt_stats((1.0, 0.0, 0.0), 1) == pytest.approx((0.299,))


def test_train_transform_outputs_the_specs_input_for_every_policy():
    images = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8)
    labels = torch.arange(40) % 10
    for policy in ("autoaugment", "randaugment", "none"):
        recipe = config(policy=policy, mixup=0, cutmix=0, random_erasing=0.5)
        transform = TrainTransform(recipe, 32, 3, (0.5,) * 3, (0.25,) * 3, classes=10)
        torch.manual_seed(0)
        x, targets = transform(images, labels)
        assert x.shape == (40, 3, 32, 32) and x.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(targets, labels) and x.min() >= -2 - 1e-5 and x.max() <= 2 + 1e-5
        torch.manual_seed(0)
        assert torch.equal(transform(images, labels)[0], x)  # seeded: the same batch again
    grey = TrainTransform(config(policy="randaugment", mixup=0, cutmix=0), 16, 1, (0.5,), (0.25,), classes=10)
    assert grey(images, labels)[0].shape == (40, 1, 16, 16)


def test_mixup_and_cutmix_targets_match_the_mixed_pixels():
    images = (torch.arange(8, dtype=torch.uint8) * 30).view(8, 1, 1, 1).expand(8, 1, 16, 16).contiguous()
    labels = torch.arange(8)
    for mixup, cutmix in ((0.4, 0.0), (0.0, 1.0)):
        recipe = config(policy="none", hflip=0, crop_scale=(1.0, 1.0), random_erasing=0, mixup=mixup, cutmix=cutmix)
        transform = TrainTransform(recipe, 16, 1, (0.0,), (1.0,), classes=8)
        torch.manual_seed(1)
        x, targets = transform(images, labels)
        assert targets.shape == (8, 8) and torch.allclose(targets.sum(1), torch.ones(8))
        # each image is the target-weighted mix of the originals, on average over its pixels
        expected = targets @ (labels.float() * 30 / 255)
        assert torch.allclose(x.mean((1, 2, 3)), expected, atol=1e-5)
        assert (targets.max(1).values < 1).any()


def test_eval_transform_resizes_and_normalises():
    images = torch.zeros(1, 3, 20, 20, dtype=torch.uint8)
    images[..., 5:15, 5:15] = 255
    out = EvalTransform(20, 3, (0.5,) * 3, (0.5,) * 3)(images)
    assert out.shape == (1, 3, 20, 20) and out[..., 5:15, 5:15].eq(1).all() and out[..., :5, :].eq(-1).all()
    resized = EvalTransform(40, 1, (0.5,), (0.5,), channels_last=True)(images)
    assert resized.shape == (1, 1, 40, 40) and resized.is_contiguous(memory_format=torch.channels_last)


def test_pair_options_from_the_command_line_become_the_recipe_tuples():
    import argparse

    from designer.cli.args import add_parameters, given
    from train.recipe import TrainConfig, validate

    parser = argparse.ArgumentParser()
    add_parameters(parser, TrainConfig)
    settings = given(parser.parse_args(["--crop-scale", "0.6", "1"]), TrainConfig)
    config = TrainConfig(**settings, arch="a.json", data="d", out="o")
    assert config.crop_scale == (0.6, 1.0)
    validate(config)  # the pair passes the recipe's checks (a list did not)
