"""``train(config)``: train a designed network, one process or many under torchrun, resumably.

Every epoch ends with a validation pass and an atomic checkpoint holding the model, optimizer,
schedule, gradient scaler, EMA, the random-generator states of every process and the metrics so
far. ``resume=True`` restores all of it and continues with the next epoch, so an interrupted run
ends with the same weights as an uninterrupted one (bit for bit on the CPU; cuDNN's autotuned
kernels make GPU runs agree only to rounding).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from designer.core.errors import DesignerError
from designer.core.spec import ArchSpec
from designer.core.units import format_count
from designer.nn.checkpoint import load_checkpoint, save_checkpoint
from train import rundir
from train.augment import EvalTransform, TrainTransform, adapt_stats
from train.crops import CentreCrop, RandomCrop
from train.datasets import FileSplit, ImageData, channel_stats, load_data
from train.distributed import Dist, process_group
from train.engine import TrainStep, autocast_dtype, ema_of, parallel, resolve_arch, training_model
from train.evaluate import EvalResult, evaluate
from train.loader import Batches
from train.optim import build_optimizer, peak_lr
from train.recipe import TrainConfig, recipe_differences
from train.rng import rng_state, seed_all, set_rng_state


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    epochs_done: int
    history: list[dict[str, Any]]


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train ``config.arch`` on ``config.data`` into ``config.out``.

    ``resume`` continues the run in ``config.out`` from its last checkpoint; ``stop_after``
    ends this call after that many epochs (a later resume goes on from there). ``on_epoch``
    gets each epoch's metrics record once it is checkpointed (a tuner's pruner raises there).
    """
    if stop_after is not None and stop_after < 1:
        raise DesignerError(f"--stop-after must be a positive number of epochs, got {stop_after}")
    with process_group(config.device) as dist:
        return _Run(config, dist, resume).fit(stop_after, on_epoch)


def prepare_spec(arch: str | ArchSpec, data: ImageData) -> tuple[ArchSpec, str | None]:
    """The spec to train: ``arch`` with its classifier sized to the data set; also a note if resized."""
    spec = resolve_arch(arch)
    if spec.in_channels not in (1, 3):
        raise DesignerError(f"training reads 1- or 3-channel images; the spec has in_channels {spec.in_channels}")
    if spec.num_classes == data.num_classes:
        return spec, None
    note = f"classifier resized from {spec.num_classes} to the data set's {data.num_classes} classes"
    return dataclasses.replace(spec, num_classes=data.num_classes), note


class _Run:
    def __init__(self, config: TrainConfig, dist: Dist, resume: bool) -> None:
        self.config, self.dist = config, dist
        self.run_dir = Path(config.out)
        last = self.run_dir / rundir.LAST
        if resume and not last.is_file():
            raise DesignerError(f"nothing to resume: {last} does not exist; drop --resume to start the run")
        if not resume and last.exists():
            raise DesignerError(
                f"{self.run_dir} already holds a run; pass --resume to continue it or choose another --out"
            )
        if config.batch_size % dist.world:
            raise DesignerError(f"--batch-size {config.batch_size} does not split evenly over {dist.world} processes")
        self.amp = autocast_dtype(config.amp, dist.device)
        self.data = load_data(config.data)
        self.spec, self.note = prepare_spec(config.arch, self.data)
        saved = self._check_resumable(load_checkpoint(last)) if resume else None

        seed_all(config.seed)
        self.model = training_model(
            self.spec,
            dist,
            bn_momentum=config.bn_momentum,
            channels_last=config.channels_last,
            sync_bn=config.sync_bn,
        )
        self.folder = isinstance(self.data.train, FileSplit)
        channels, resolution = self.spec.in_channels, self.spec.resolution
        per_process = config.batch_size // dist.world
        self.train_batches, self.val_batches = (
            Batches(
                split,
                dist,
                per_process,
                train=train,
                seed=config.seed,
                workers=config.workers,
                crop=crop,
                resolution=resolution,
                mode="RGB" if channels == 3 else "L",
                decode=config.decode,
            )
            for split, train, crop in (
                (self.data.train, True, RandomCrop(config.crop_scale, config.seed)),
                (self.data.val, False, CentreCrop(config.eval_crop)),
            )
        )
        if len(self.train_batches) == 0:
            raise DesignerError(
                f"the training split has {len(self.data.train)} images, fewer than one batch per process "
                f"({per_process}); lower --batch-size"
            )
        self.optimizer, self.scheduler = build_optimizer(self.model, config, len(self.train_batches))
        self.ema = ema_of(self.model, config.ema_decay) if config.ema_decay > 0 else None
        self.step = TrainStep(
            parallel(self.model, dist, config.compile),
            self.optimizer,
            amp=self.amp,
            device=dist.device,
            label_smoothing=config.label_smoothing,
            scheduler=self.scheduler,
            ema=self.ema,
            ema_source=self.model,
        )
        mean, std = (adapt_stats(values, channels) for values in channel_stats(self.data))
        self.normalize = {"mean": list(mean), "std": list(std)}
        self.train_transform = TrainTransform(
            config, resolution, channels, mean, std, self.data.num_classes, crop=not self.folder
        )
        self.eval_transform = EvalTransform(resolution, channels, mean, std, channels_last=config.channels_last)
        self.history: list[dict[str, Any]] = []
        self.start_epoch = 0
        if saved is not None:
            self._restore(saved)  # last: it sets the random generators
            if dist.main and not (self.run_dir / rundir.CONFIG).is_file():
                config.save(self.run_dir / rundir.CONFIG)  # a lost config.json, restored from the checkpoint
        else:
            seed_all(config.seed + dist.rank)
            if dist.main:
                config.save(self.run_dir / rundir.CONFIG)
                self.spec.save(self.run_dir / rundir.ARCH)
        if dist.cuda:
            torch.backends.cudnn.benchmark = True

    # --- resuming ------------------------------------------------------------------------
    def _check_resumable(self, saved: dict[str, Any]) -> dict[str, Any]:
        if saved.get("digest") != self.spec.digest():
            raise DesignerError(
                f"{self.spec.name or 'this arch'} is not the network of the run in {self.run_dir}; resume with the arch it was "
                f"started with ({self.run_dir / rundir.ARCH})"
            )
        differences = recipe_differences(TrainConfig.from_dict(saved["config"]), self.config)
        if differences:
            raise DesignerError(
                f"the run in {self.run_dir} was started with other settings ({'; '.join(differences)}); resume "
                "with the run's settings (its config.json) or start a new --out"
            )
        return saved

    def _restore(self, saved: dict[str, Any]) -> None:
        self.model.load_state_dict(saved["model"])
        if self.ema is not None:
            self.ema.module.load_state_dict(saved["ema"])
            self.ema.n_averaged.fill_(saved["ema_updates"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.step.scaler.load_state_dict(saved["scaler"])
        self.history = list(saved["history"])
        self.start_epoch = int(saved["epoch"])
        states = saved["rng"]
        if len(states) == self.dist.world:
            set_rng_state(states[self.dist.rank], self.dist.device)
        else:
            self.dist.log(
                f"note: the run had {len(states)} processes, now {self.dist.world}; it goes on, not bit for bit"
            )
            seed_all(self.config.seed + self.dist.rank + 1_000_003 * self.start_epoch)

    # --- training ------------------------------------------------------------------------
    def fit(self, stop_after: int | None, on_epoch: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
        config, dist = self.config, self.dist
        end = config.epochs if stop_after is None else min(config.epochs, self.start_epoch + stop_after)
        self._log_start()
        for epoch in range(self.start_epoch, end):
            record = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"], **self._train_epoch(epoch)}
            self._log_unreadable(self.train_batches, f"epoch {epoch + 1}")
            record.update(
                _prefixed("val_", evaluate(self.model, self.val_batches, self.eval_transform, dist, self.amp))
            )
            self._log_unreadable(self.val_batches, "validation")
            if self.ema is not None:
                result = evaluate(self.ema.module, self.val_batches, self.eval_transform, dist, self.amp)
                record.update(_prefixed("ema_val_", result))
            self.history.append(record)
            self._save(epoch + 1)
            dist.log(_summary(record, config.epochs))
            if on_epoch is not None:
                on_epoch(record)
        if end == config.epochs:
            dist.log(f"run complete: {self.run_dir}")
        return TrainResult(self.run_dir, end, self.history)

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        dist, batches = self.dist, self.train_batches
        self.model.train()
        total = batches.images_per_epoch * dist.world
        bar = tqdm(
            total=total,
            unit="img",
            unit_scale=True,
            desc=f"epoch {epoch + 1}/{self.config.epochs}",
            leave=False,
            mininterval=1 if sys.stderr.isatty() else 30,  # a log file gets a line every 30 s
            disable=not (self.config.progress and dist.main),
        )
        loss_sum = torch.zeros((), dtype=torch.float64, device=dist.device)
        count = 0
        start = time.perf_counter()
        for index, (images, labels) in enumerate(batches.epoch(epoch)):
            x, targets = self.train_transform(images, labels)
            loss = self.step(x, targets)
            loss_sum += loss.double() * len(images)
            count += len(images)
            bar.update(len(images) * dist.world)
            if index % 20 == 0 and not bar.disable:
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{self.optimizer.param_groups[0]['lr']:.3g}")
        if dist.cuda:
            torch.cuda.synchronize(dist.device)
        seconds = time.perf_counter() - start
        bar.close()
        loss_total, seen = dist.all_sum([loss_sum.item(), float(count)])
        train_loss = loss_total / seen
        if not math.isfinite(train_loss):
            raise DesignerError(
                f"training diverged in epoch {epoch + 1} (loss {train_loss}); lower --lr or try --amp bf16 or off"
            )
        record: dict[str, Any] = {
            "train_loss": train_loss,
            "train_images": int(seen),
            "train_seconds": seconds,
            "train_images_per_s": seen / seconds,
        }
        if dist.world > 1:
            record["rank_images"] = dist.gather(count)
        return record

    def _log_unreadable(self, batches: Batches, where: str) -> None:
        """Report the image files skipped in ``where`` (every process takes part)."""
        (count,) = self.dist.all_sum([float(len(batches.unreadable))])
        if count:
            example = f", e.g. {batches.unreadable[0][0]} ({batches.unreadable[0][1]})" if batches.unreadable else ""
            self.dist.log(f"skipped {int(count)} unreadable image file(s) in {where}{example}; remove or replace them")

    def _save(self, epochs_done: int) -> None:
        dist = self.dist
        states = dist.gather(rng_state(dist.device))
        if dist.main:
            key = "ema_val_top1" if self.ema is not None else "val_top1"
            best = max(record[key] for record in self.history)
            payload = {
                "ema": self.ema.module.state_dict() if self.ema is not None else None,
                "ema_updates": int(self.ema.n_averaged) if self.ema is not None else 0,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.step.scaler.state_dict(),
                "epoch": epochs_done,
                "rng": states,
                "config": self.config.to_dict(),
                "history": self.history,
                "classes": list(self.data.classes),
                "normalize": self.normalize,
            }
            save_checkpoint(self.run_dir / rundir.LAST, self.spec, self.model.state_dict(), **payload)
            if self.history[-1][key] == best:
                save_checkpoint(self.run_dir / rundir.BEST, self.spec, self.model.state_dict(), **payload)
            rundir.write_metrics(self.run_dir, self.history)
            rundir.plot_curves(self.run_dir, self.history)
        dist.barrier()

    def _log_start(self) -> None:
        config, dist = self.config, self.dist
        params = sum(p.numel() for p in self.model.parameters())
        places = dist.gather(f"rank {dist.rank} {dist.device}")
        dist.log(f"data: {self.data.describe()}")
        if self.folder:
            dist.log(f"images decoded by {self.train_batches.decoding}, {config.workers} worker process(es)")
        dist.log(
            f"network: {self.spec.name or 'unnamed'} ({format_count(params)} params, {self.spec.resolution} px)"
            + (f"; {self.note}" if self.note else "")
        )
        dist.log(
            f"{dist.world} process(es): {', '.join(places)}; batch {config.batch_size} "
            f"({config.batch_size // dist.world} per process), {len(self.train_batches)} steps per epoch, "
            f"peak lr {peak_lr(config):.4g}, amp {str(self.amp).removeprefix('torch.') if self.amp else 'off'}"
        )
        if self.start_epoch:
            dist.log(f"resuming after epoch {self.start_epoch} of {config.epochs}")


def _prefixed(prefix: str, result: EvalResult) -> dict[str, float]:
    return {f"{prefix}top1": result.top1, f"{prefix}top5": result.top5, f"{prefix}loss": result.loss}


def _summary(record: dict[str, Any], epochs: int) -> str:
    text = (
        f"epoch {record['epoch']}/{epochs}  loss {record['train_loss']:.4f}  val loss {record['val_loss']:.4f}  "
        f"top-1 {100 * record['val_top1']:.2f}%  top-5 {100 * record['val_top5']:.2f}%"
    )
    if "ema_val_top1" in record:
        text += f"  EMA top-1 {100 * record['ema_val_top1']:.2f}%"
    return text + f"  {record['train_images_per_s']:.0f} img/s  {record['train_seconds']:.1f} s"
