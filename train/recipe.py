"""The training recipe: every knob of ``designer train`` as one frozen, JSON-serialisable dataclass.

Defaults are the DeepMAD paper's ImageNet recipe as published with its code (SGD with momentum
0.9, learning rate 0.1 per 256 images, weight decay 5e-5, 480 epochs) completed with the
regularisation it inherits from Zen-NAS/TinyNAS (label smoothing 0.1, AutoAugment, mixup,
random erasing) plus Nesterov momentum, a 5-epoch linear warm-up and cutmix switched with
mixup. Each field is a ``designer train`` flag of the same name (``min_lr`` is ``--min-lr``);
the CLI builds its options from the ``help`` metadata below.

Fields marked ``runtime`` may change when a run is resumed; the others shape the result, so a
resumed run must keep them (see :func:`recipe_differences`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from designer.core.errors import ParameterError
from designer.core.fileio import atomic_write_text
from designer.core.params import check_choice, check_int, check_number, flag, is_number, parameter, parameters
from designer.core.parse import build, read_json
from designer.core.spec import ArchSpec

AMP_MODES = ("auto", "bf16", "fp16", "off")
POLICIES = ("autoaugment", "randaugment", "none")
DEVICES = ("auto", "cuda", "cpu")
DECODES = ("auto", "gpu", "cpu")


def _knob(default: Any, help: str, *, runtime: bool = False, choices: tuple[str, ...] | None = None) -> Any:
    return parameter(default, help, runtime=runtime, choices=choices)


@dataclass(frozen=True)
class TrainConfig:
    arch: str | ArchSpec
    """A spec, an arch JSON path or a reference network name (``resnet50``)."""
    data: str
    """Data directory: ImageFolder (train/, val/), CIFAR python/binary batches or IDX files."""
    out: str
    """Run directory: config, metrics, curves, checkpoints."""

    # --- schedule ------------------------------------------------------------------------
    epochs: int = _knob(480, "training epochs")
    batch_size: int = _knob(256, "global batch size, split evenly over the torchrun processes")
    lr: float = _knob(0.1, "peak learning rate per 256 images (scaled linearly with --batch-size)")
    min_lr: float = _knob(1e-5, "learning rate at the end of the cosine decay and during cool-down")
    warmup_epochs: float = _knob(5.0, "linear warm-up epochs from 0 to the peak learning rate")
    cooldown_epochs: float = _knob(0.0, "final epochs held at --min-lr after the cosine decay")
    # --- optimizer -----------------------------------------------------------------------
    momentum: float = _knob(0.9, "SGD momentum")
    nesterov: bool = _knob(True, "Nesterov momentum")
    weight_decay: float = _knob(5e-5, "weight decay of conv and linear weights (not of norms and biases)")
    label_smoothing: float = _knob(0.1, "label smoothing of the cross-entropy")
    bn_momentum: float = _knob(0.1, "batch-norm running-statistics momentum (PyTorch convention)")
    ema_decay: float = _knob(0.0, "keep an EMA of the weights with this decay per step (e.g. 0.9998); 0 = off")
    # --- augmentation and mixing ---------------------------------------------------------
    crop_scale: tuple[float, float] = _knob((0.08, 1.0), "random resized crop: area fraction range (MIN MAX)")
    hflip: float = _knob(0.5, "probability of a horizontal flip")
    policy: str = _knob("autoaugment", "automatic augmentation policy", choices=POLICIES)
    randaugment_n: int = _knob(2, "RandAugment: operations per image")
    randaugment_m: int = _knob(9, "RandAugment: magnitude (1-29)")
    random_erasing: float = _knob(0.2, "probability of random erasing")
    mixup: float = _knob(0.2, "mixup alpha (Beta(alpha, alpha) mixing weight); 0 = off")
    cutmix: float = _knob(1.0, "cutmix alpha; 0 = off")
    mix_prob: float = _knob(1.0, "probability that a batch is mixed")
    mix_switch: float = _knob(0.5, "probability of cutmix instead of mixup when both are on")
    eval_crop: float = _knob(0.875, "ImageFolder: centre-crop fraction at evaluation (resize to resolution/crop)")
    # --- numerics and performance --------------------------------------------------------
    amp: str = _knob(
        "auto", "mixed precision: auto = bf16 on CUDA (fp16 if unsupported), off on CPU", choices=AMP_MODES
    )
    channels_last: bool = _knob(True, "channels_last memory format")
    compile: bool = _knob(False, "torch.compile the model", runtime=True)
    sync_bn: bool = _knob(False, "synchronise batch-norm statistics across torchrun processes")
    seed: int = _knob(0, "random seed (data order, augmentation, initial weights)")
    device: str = _knob("auto", "device: auto = CUDA when available", runtime=True, choices=DEVICES)
    workers: int = _knob(8, "data-loading processes per training process (ImageFolder)", runtime=True)
    decode: str = _knob(
        "auto",
        "ImageFolder JPEG decoding: gpu = nvJPEG through torchvision (the workers only read files), cpu = Pillow in "
        "the workers, auto = gpu when training on CUDA and torchvision's GPU decoder works",
        runtime=True,
        choices=DECODES,
    )
    progress: bool = _knob(True, "progress bars", runtime=True)

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if isinstance(self.arch, ArchSpec):
            data["arch"] = self.arch.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "train config") -> TrainConfig:
        """The config of a parsed JSON object (a run's ``config.json``), checked strictly."""
        return build(cls, data, where)

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.from_dict(read_json(path, "train config"), f"train config {path}")

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")


def knobs() -> list[Any]:
    """The recipe fields (everything except arch, data and out), in declaration order."""
    return parameters(TrainConfig)


def recipe_differences(saved: TrainConfig, new: TrainConfig) -> list[str]:
    """``--flag new (run: old)`` for every result-shaping field that differs."""
    return [
        f"{flag(f.name)} {getattr(new, f.name)} (run: {getattr(saved, f.name)})"
        for f in knobs()
        if not f.metadata["runtime"] and getattr(saved, f.name) != getattr(new, f.name)
    ]


def validate(config: TrainConfig) -> None:
    """Raise :class:`ParameterError` naming the first bad value (its flag on the command line)."""
    if not isinstance(config.arch, (str, ArchSpec)) or not config.arch:
        raise ParameterError("{arch} must be an arch spec, an arch JSON path or a reference name")
    for name in ("data", "out"):
        if not isinstance(getattr(config, name), str) or not getattr(config, name):
            raise ParameterError(f"{{{name}}} must be a folder path")
    for name in ("epochs", "batch_size", "randaugment_n"):
        check_int(name, getattr(config, name))
    check_int("workers", config.workers, 0)
    check_int("randaugment_m", config.randaugment_m, 1, 29)
    check_int("seed", config.seed, 0, 2**63 - 1)
    for name in ("lr", "eval_crop"):
        check_number(name, getattr(config, name), high=1.0 if name == "eval_crop" else math.inf)
    for name in ("min_lr", "warmup_epochs", "cooldown_epochs", "weight_decay", "mixup", "cutmix"):
        check_number(name, getattr(config, name), above=False)
    for name in ("momentum", "label_smoothing", "bn_momentum", "hflip", "random_erasing", "mix_prob", "mix_switch"):
        check_number(name, getattr(config, name), above=False, high=1.0)
    check_number("ema_decay", config.ema_decay, above=False, high=1.0)
    if config.ema_decay == 1:
        raise ParameterError("{ema_decay} must be below 1 (1 never updates the average), got 1")
    scale = config.crop_scale
    if not (isinstance(scale, tuple) and len(scale) == 2 and all(is_number(v) for v in scale)) or not (
        0 < scale[0] <= scale[1] <= 1
    ):
        raise ParameterError(f"{{crop_scale}} needs 0 < MIN <= MAX <= 1, got {scale!r}")
    for item in knobs():
        if isinstance(item.default, bool) and not isinstance(getattr(config, item.name), bool):
            raise ParameterError(f"{{{item.name}}} must be true or false, got {getattr(config, item.name)!r}")
    if config.warmup_epochs + config.cooldown_epochs > config.epochs:
        raise ParameterError(
            f"{{warmup_epochs}} {config.warmup_epochs:g} plus {{cooldown_epochs}} {config.cooldown_epochs:g} exceed "
            f"{{epochs}} {config.epochs}; shorten them"
        )
    for name, allowed in (("amp", AMP_MODES), ("policy", POLICIES), ("device", DEVICES), ("decode", DECODES)):
        check_choice(name, getattr(config, name), allowed)
