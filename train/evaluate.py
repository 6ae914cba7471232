"""Top-1 / top-5 accuracy, loss and images/s of a network on a validation split (``designer eval``)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from designer.core.errors import DesignerError
from designer.nn.checkpoint import load_checkpoint, model_from_checkpoint
from train.augment import EvalTransform, adapt_stats
from train.crops import CentreCrop
from train.datasets import IMAGENET_MEAN, IMAGENET_STD, load_data
from train.distributed import Dist, process_group
from train.engine import autocast_dtype
from train.loader import Batches
from train.rundir import LAST


@dataclass(frozen=True)
class EvalResult:
    top1: float
    top5: float
    loss: float
    images: int
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "images_per_s": self.images_per_s}


def evaluate(
    model: nn.Module,
    batches: Batches,
    transform: EvalTransform,
    dist: Dist,
    amp: torch.dtype | None = None,
    progress: bool = False,
) -> EvalResult:
    """Accuracy over the whole split, each process taking its share; leaves ``model`` in eval mode."""
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=dist.device)  # loss, top-1 hits, top-5 hits, images
    bar = tqdm(total=len(batches), unit="batch", desc="eval", leave=False, disable=not (progress and dist.main))
    start = time.perf_counter()
    with torch.inference_mode():
        for images, labels in batches.epoch(0):
            with torch.autocast(dist.device.type, dtype=amp or torch.float32, enabled=amp is not None):
                logits = model(transform(images)).float()
            ranked = logits.topk(min(5, logits.shape[1]), dim=1).indices == labels[:, None]
            sums += torch.stack(
                [
                    F.cross_entropy(logits, labels, reduction="sum").double(),
                    ranked[:, 0].sum().double(),
                    ranked.any(1).sum().double(),
                    sums.new_tensor(len(labels)),
                ]
            )
            bar.update()
    bar.close()
    loss, top1, top5, count = dist.all_sum(sums.tolist())
    seconds = time.perf_counter() - start
    return EvalResult(top1=top1 / count, top5=top5 / count, loss=loss / count, images=int(count), seconds=seconds)


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: str | Path,
    *,
    batch_size: int = 256,
    workers: int = 8,
    device: str = "auto",
    amp: str = "auto",
    decode: str = "auto",
    ema: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate a training checkpoint (or a run directory's ``last.pt``) on ``data``'s val split."""
    path = Path(checkpoint)
    if path.is_dir():
        path = path / LAST
    saved = load_checkpoint(path)
    spec, model = model_from_checkpoint(path, prefer_ema=ema)
    dataset = load_data(data)
    if dataset.num_classes != spec.num_classes:
        raise DesignerError(
            f"{path} classifies {spec.num_classes} classes but {dataset.root} has {dataset.num_classes}; "
            "evaluate on the data set the network was trained on"
        )
    normalize = saved.get("normalize") or {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    crop = CentreCrop(float(saved.get("config", {}).get("eval_crop", 0.875)))
    with process_group(device) as dist:
        transform = EvalTransform(
            spec.resolution,
            spec.in_channels,
            adapt_stats(normalize["mean"], spec.in_channels),
            adapt_stats(normalize["std"], spec.in_channels),
        )
        batches = Batches(
            dataset.val,
            dist,
            batch_size,
            train=False,
            workers=workers,
            crop=crop,
            resolution=spec.resolution,
            mode="RGB" if spec.in_channels == 3 else "L",
            decode=decode,
        )
        dtype = autocast_dtype(amp, dist.device)
        result = evaluate(model.to(dist.device), batches, transform, dist, dtype, progress)
        (unreadable,) = dist.all_sum([float(len(batches.unreadable))])
    return {
        "checkpoint": str(path),
        "arch": spec.name,
        "data": dataset.describe(),
        "weights": "ema" if ema and saved.get("ema") is not None else "model",
        "device": str(dist.device),
        "processes": dist.world,
        "amp": str(dtype).removeprefix("torch.") if dtype else "off",
        "unreadable": int(unreadable),
        **result.to_dict(),
    }
