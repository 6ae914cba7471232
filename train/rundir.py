"""The run directory: file names, the per-epoch metrics file and the plot of the curves.

``config.json`` (the recipe; ``last.pt`` holds a copy), ``arch.json`` (the trained spec), ``metrics.jsonl`` (one JSON
object per epoch), ``curves.png``, ``last.pt`` (every epoch) and ``best.pt`` (best validation
top-1). Every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_bytes, atomic_write_text
from designer.plots import png, subplots
from train.recipe import TrainConfig

CONFIG = "config.json"
ARCH = "arch.json"
METRICS = "metrics.jsonl"
CURVES = "curves.png"
LAST = "last.pt"
BEST = "best.pt"


def saved_config(run_dir: Path) -> TrainConfig:
    """The recipe a run was started with: its ``config.json``, else the copy in its ``last.pt``."""
    path, last = run_dir / CONFIG, run_dir / LAST
    if path.is_file() or not last.is_file():
        if not path.is_file():
            raise DesignerError(f"nothing to resume: {run_dir} holds no {CONFIG} and no {LAST}; drop --resume to start")
        return TrainConfig.load(path)
    from designer.nn.checkpoint import load_checkpoint

    saved = load_checkpoint(last).get("config")
    return TrainConfig.from_dict(saved, f"the config saved in {last}")


def write_metrics(run_dir: Path, history: list[dict[str, Any]]) -> None:
    atomic_write_text(run_dir / METRICS, "".join(json.dumps(record) + "\n" for record in history))


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / METRICS).read_text().splitlines() if line]


def plot_curves(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """Loss (train, val) and validation accuracy (top-1, top-5, EMA top-1) against the epoch."""
    epochs = [record["epoch"] for record in history]
    figure, (loss_axes, accuracy_axes) = subplots(1, 2, figsize=(10, 4))
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
    for key, label in (("train_loss", "train"), ("val_loss", "val"), ("ema_val_loss", "val (EMA)")):
        if key in history[0]:
            loss_axes.plot(epochs, [record[key] for record in history], marker=".", label=label)
    for key, label in (("val_top1", "top-1"), ("val_top5", "top-5"), ("ema_val_top1", "top-1 (EMA)")):
        if key in history[0]:
            accuracy_axes.plot(epochs, [100 * record[key] for record in history], marker=".", label=label)
    loss_axes.set(xlabel="epoch", ylabel="loss", title="loss")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy (%)", title="validation accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
        axes.legend()
    atomic_write_bytes(run_dir / CURVES, png(figure, dpi=100))
