"""Train: a designed network on a data set, with the DeepMAD recipe (every knob a keyword)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from designer.core.spec import ArchSpec
from train.loop import TrainResult
from train.loop import train as run_training
from train.recipe import TrainConfig


def train(
    arch: ArchSpec | str | Path,
    data: str | Path,
    out: str | Path,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    **recipe: Any,
) -> TrainResult:
    """Train ``arch`` (a spec, an arch JSON or a reference name) on ``data`` into the run folder ``out``.

    ``recipe`` sets any field of :class:`train.recipe.TrainConfig` (``epochs=20``,
    ``batch_size=512``, ...); the rest keep the DeepMAD recipe's defaults. ``resume`` continues
    the run in ``out``; ``stop_after`` ends this call after that many epochs.
    """
    source = arch if isinstance(arch, ArchSpec) else str(arch)
    config = TrainConfig(arch=source, data=str(data), out=str(out), **recipe)
    return run_training(config, resume=resume, stop_after=stop_after, on_epoch=on_epoch)
