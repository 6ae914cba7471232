"""Input pipeline on ImageNet-shaped JPEGs: loader-only, from-folder training and device-resident rates in one run.

Writes an ImageFolder of synthetic photographs shaped like ImageNet's (500x375 baseline JPEGs of
about 96 KB in ``--classes`` class folders), designs the ResNet-50-sized DeepMAD network for those
classes (or takes ``--arch``), then measures on the GPU, at ``--batch`` with ``--amp`` and
channels_last:

* nvJPEG alone: ``torchvision.io.decode_jpeg`` on batches of files held in memory;
* the loader alone (images/s, and CPU cores busy in the main process and the workers together):
  the worker processes reading files for the GPU decoder; the whole GPU path (reading, nvJPEG,
  crop, resize); the Pillow path (decoding in the workers);
* training: device-resident uint8 batches through the recipe's augmentation (the step of
  ``benchmarks/train_throughput.py --augment``), then ``designer train`` from the folder, decoding
  on the GPU and with Pillow (per-epoch rates; cuDNN has tuned its kernels in the
  device-resident stage).

Every stage's result, or its error, is written to ``--out`` as soon as it is known; a stage that
hangs prints every thread's stack and ends the run; a summary table and the issue's two bars end
the run. Needs kornia for the training stages (the loader stages run without it) and torchvision
with nvJPEG for the GPU stages.

    PYTHONPATH=$PWD python3 -m benchmarks.input_pipeline --out input_pipeline.json
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import importlib.util
import io
import json
import os
import platform
import resource
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.fileio import atomic_write_text
from train.crops import RandomCrop
from train.datasets import FileSplit, load_data
from train.distributed import Dist
from train.images import ImageFiles, collate, describe
from train.jpeg import nvjpeg
from train.loader import Batches, EpochKeys

WIDTH, HEIGHT, QUALITY, GRAIN = 500, 375, 90, 9.0  # about 96 KB a file


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("--work", type=Path, default=Path("/tmp/designer-input-pipeline"), help="data and runs")
    parser.add_argument("--images", type=int, default=22_000, help="training images to write")
    parser.add_argument("--val-images", type=int, default=1_000, help="validation images to write")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--arch", help="arch JSON to train (default: designed here, ResNet-50-sized)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=15, help="data-loading processes")
    parser.add_argument("--amp", default="bf16", choices=["bf16", "fp16"])
    parser.add_argument("--loader-batches", type=int, default=40, help="timed batches per loader stage")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs from the folder, GPU decoding")
    parser.add_argument("--pillow-epochs", type=int, default=1, help="training epochs with Pillow decoding (0: skip)")
    parser.add_argument(
        "--stage-timeout",
        type=float,
        default=240,
        help="seconds; a stage running longer prints every thread's stack and ends the run (earlier stages stay in --out)",
    )
    args = parser.parse_args(argv)
    for name in ("images", "val_images", "classes", "batch", "loader_batches", "epochs", "stage_timeout"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    for name in ("workers", "pillow_epochs"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more")
    if args.arch and not Path(args.arch).is_file():
        parser.error(f"--arch {args.arch} is not a file; give an arch JSON (designer solve -o) or leave it out")
    if args.images < 2 * args.batch:
        parser.error(f"--images must hold at least two batches ({2 * args.batch})")
    return args


class Report:
    """The results so far, rewritten to ``path`` after every stage."""

    def __init__(self, path: Path, args: argparse.Namespace) -> None:
        self.path, self.timeout = path, args.stage_timeout
        self.data: dict[str, Any] = {
            "environment": environment(),
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "stages": {},
        }
        self.save()

    def stage(self, name: str, run: Callable[[], dict[str, Any]], needs: str | None = None) -> dict[str, Any]:
        """Run one stage, record what it measured or why it failed or was skipped."""
        log(f"\n== {name}")
        start = time.perf_counter()
        if needs:
            result: dict[str, Any] = {"skipped": needs}
        else:
            faulthandler.dump_traceback_later(self.timeout, exit=True)  # a hang shows where, and ends
            try:
                result = run()
            except Exception as error:  # one stage failing must not end the run
                traceback.print_exc()
                result = {"error": describe(error)}
            finally:
                faulthandler.cancel_dump_traceback_later()
        result["stage_seconds"] = round(time.perf_counter() - start, 1)
        log(f"   {json.dumps(result)}")
        self.data["stages"][name] = result
        self.save()
        return result

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(self.data, indent=2) + "\n")


def environment() -> dict[str, Any]:
    found: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "pillow": Image.__version__,
        "kornia": importlib.util.find_spec("kornia") is not None,
    }
    try:
        import torchvision

        found["torchvision"] = torchvision.__version__
    except Exception as error:  # absent, or built for another torch
        found["torchvision"] = f"not importable: {type(error).__name__}"
    return found


def log(text: str) -> None:
    print(text, flush=True)


# --- the data set ------------------------------------------------------------------------------


def photograph(index: int, label: int) -> bytes:
    """A 500x375 JPEG that compresses like a photograph: smooth colour areas, luminance grain."""
    rng = np.random.default_rng(index)
    coarse = rng.integers(0, 256, (HEIGHT // 8 + 2, WIDTH // 8 + 2, 3), dtype=np.uint8)
    coarse[..., label % 3] //= 2  # a faint class tint
    smooth = np.asarray(Image.fromarray(coarse).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC), dtype=np.float32)
    pixels = np.clip(smooth + rng.normal(0, GRAIN, (HEIGHT, WIDTH, 1)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


def _write_chunk(tasks: list[tuple[str, int, int]]) -> int:
    written = 0
    for path, index, label in tasks:
        data = photograph(index, label)
        Path(path).write_bytes(data)
        written += len(data)
    return written


def write_folder(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The ImageFolder (reused when a previous run wrote the same one)."""
    recipe = {k: getattr(args, k) for k in ("images", "val_images", "classes")} | {"grain": GRAIN, "quality": QUALITY}
    marker = root / "written.json"
    if marker.is_file() and json.loads(marker.read_text()).get("recipe") == recipe:
        return {**json.loads(marker.read_text()), "reused": True}
    shutil.rmtree(root, ignore_errors=True)
    tasks = []
    for split, count, offset in (("train", args.images, 0), ("val", args.val_images, 10**7)):
        for index in range(count):
            label = index % args.classes
            folder = root / split / f"class{label:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            tasks.append((str(folder / f"{index:07d}.jpg"), offset + index, label))
    start = time.perf_counter()
    chunks = [tasks[i : i + 200] for i in range(0, len(tasks), 200)]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        total = sum(pool.map(_write_chunk, chunks))
    written = {
        "recipe": recipe,
        "files": len(tasks),
        "mean_kb": round(total / len(tasks) / 1000, 1),
        "size": f"{WIDTH}x{HEIGHT}",
        "write_seconds": round(time.perf_counter() - start, 1),
    }
    atomic_write_text(marker, json.dumps(written) + "\n")
    return written


def design(work: Path, classes: int) -> Path:
    """The ResNet-50-sized DeepMAD design for ``classes`` classes (``designer solve``)."""
    from designer.cli import main as designer

    path = work / f"r50_deepmad_{classes}.json"
    argv = ["solve", "--family", "bottleneck", "--flops", "4.1G", "--params", "25.6M", "--classes", str(classes)]
    if designer([*argv, "-o", str(path)]) != 0:
        raise RuntimeError("designer solve failed (see above)")
    return path


# --- measuring ---------------------------------------------------------------------------------


class CpuClock:
    """Wall time and CPU time of this process and its finished children (the worker processes)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), self._cpu()

    @staticmethod
    def _cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def cores(self) -> float:
        return round((self._cpu() - self.cpu) / (time.perf_counter() - self.wall), 2)


@dataclass(frozen=True)
class Setup:
    device: torch.device
    data: Path
    split: FileSplit
    arch: Path | None

    def need_arch(self) -> Path:
        if self.arch is None:
            raise RuntimeError("no arch")
        return self.arch


def timed_batches(batches: Iterator[Any], count: int, device: torch.device, warmup: int = 4) -> dict[str, Any]:
    """Images/s over ``count`` batches after ``warmup`` untimed ones (the workers starting)."""
    for _ in range(warmup):
        next(batches)
    synchronize(device)
    images, start = 0, time.perf_counter()
    for _ in range(count):
        batch = next(batches)
        images += len(batch[1]) if isinstance(batch, tuple) else len(batch)
    synchronize(device)
    seconds = time.perf_counter() - start
    return {"images": images, "seconds": round(seconds, 2), "images_per_s": round(images / seconds, 1)}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def nvjpeg_alone(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    from torchvision.io import ImageReadMode, decode_jpeg

    paths = setup.split.files[: 8 * args.batch]
    files = [torch.frombuffer(bytearray(Path(path).read_bytes()), dtype=torch.uint8) for path in paths]
    groups = [files[i : i + args.batch] for i in range(0, len(files), args.batch)]
    decode_jpeg(groups[0], mode=ImageReadMode.RGB, device=setup.device)
    synchronize(setup.device)
    start = time.perf_counter()
    for _ in range(4):
        for group in groups:
            decode_jpeg(group, mode=ImageReadMode.RGB, device=setup.device)
    synchronize(setup.device)
    seconds = time.perf_counter() - start
    return {"images": 4 * len(files), "images_per_s": round(4 * len(files) / seconds, 1)}


def reading_alone(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    """The workers' part of the GPU path: read each file and its header, pick its box, collate the bytes."""
    clock = CpuClock()
    loader = DataLoader(
        ImageFiles(setup.split, RandomCrop((0.08, 1.0)), 224, "RGB", encoded=True),
        batch_size=args.batch,
        sampler=EpochKeys(list(range(len(setup.split)))),
        num_workers=args.workers,
        collate_fn=collate,
    )
    batches = iter(loader)
    result = timed_batches(batches, min(args.loader_batches, len(setup.split) // args.batch - 4), setup.device)
    del batches, loader
    gc.collect()  # the workers end here, so their CPU time counts
    return {**result, "workers": args.workers, "cores_busy": clock.cores()}


def loader_alone(setup: Setup, args: argparse.Namespace, decode: str) -> dict[str, Any]:
    """Batches of network-sized uint8 images on the GPU, as training receives them."""
    clock = CpuClock()
    batches = Batches(
        setup.split, Dist(0, 1, 0, setup.device), args.batch, train=True, workers=args.workers,
        crop=RandomCrop((0.08, 1.0)), resolution=224, mode="RGB", decode=decode,
    )  # fmt: skip
    epoch = batches.epoch(0)
    try:
        result = timed_batches(epoch, min(args.loader_batches, len(batches) - 4), setup.device)
    finally:
        epoch.close()
    decoding = batches.decoding
    del batches, epoch
    gc.collect()  # the workers end here, so their CPU time counts
    return {**result, "decoding": decoding, "workers": args.workers, "cores_busy": clock.cores()}


def device_resident(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    """The training step on uint8 batches already on the GPU, with the recipe's augmentation."""
    from benchmarks.train_throughput import Bench, measure
    from train.engine import resolve_arch

    torch.backends.cudnn.benchmark = True
    options = argparse.Namespace(augment=True, channels_last=True, compile=False, warmup=8, steps=25)
    bench = Bench(resolve_arch(str(setup.need_arch())), args.amp, options, setup.device)
    result = measure(bench, args.batch, options)
    del bench
    torch.cuda.empty_cache()
    return result


def train_from_folder(setup: Setup, args: argparse.Namespace, decode: str, epochs: int) -> dict[str, Any]:
    """``designer train`` on the folder: the rate of each epoch's training pass."""
    from train.loop import train
    from train.recipe import TrainConfig

    run = args.work / f"run-{decode}"
    shutil.rmtree(run, ignore_errors=True)
    config = TrainConfig(
        arch=str(setup.need_arch()), data=str(setup.data), out=str(run), epochs=epochs, batch_size=args.batch,
        warmup_epochs=0, amp=args.amp, workers=args.workers, decode=decode, progress=False,
    )  # fmt: skip
    history = train(config).history
    torch.cuda.empty_cache()
    rates = [round(record["train_images_per_s"], 1) for record in history]
    return {"epochs_images_per_s": rates, "images_per_s": rates[-1], "train_images": history[-1]["train_images"]}


# --- the run -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(args.out, args)
    device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / "data"
    written = report.stage("data", lambda: write_folder(data, args))
    if "files" not in written:
        return 1
    designed = report.stage(
        "arch", lambda: {"path": str(Path(args.arch) if args.arch else design(args.work, args.classes))}
    )
    split = load_data(data).train
    assert isinstance(split, FileSplit)
    setup = Setup(device, data, split, Path(designed["path"]) if "path" in designed else None)

    found = nvjpeg(device, 3) if device.type == "cuda" else "no CUDA GPU"
    no_nvjpeg = found if isinstance(found, str) else None
    no_kornia = None if importlib.util.find_spec("kornia") else "kornia is not installed (pip install kornia)"
    no_training = ("no CUDA GPU" if device.type != "cuda" else None) or no_kornia or (None if setup.arch else "no arch")
    report.stage("device_resident", lambda: device_resident(setup, args), needs=no_training)
    report.stage("nvjpeg_alone", lambda: nvjpeg_alone(setup, args), needs=no_nvjpeg)
    report.stage("loader_reading", lambda: reading_alone(setup, args))
    report.stage("loader_pillow", lambda: loader_alone(setup, args, "cpu"))
    report.stage("loader_gpu", lambda: loader_alone(setup, args, "gpu"), needs=no_nvjpeg)
    report.stage(
        "train_gpu", lambda: train_from_folder(setup, args, "gpu", args.epochs), needs=no_training or no_nvjpeg
    )
    report.stage(
        "train_pillow",
        lambda: train_from_folder(setup, args, "cpu", args.pillow_epochs),
        needs=no_training or (None if args.pillow_epochs else "--pillow-epochs 0"),
    )
    report.data["bars"] = bars(report.data["stages"])
    report.save()
    summary(report.data)
    log(f"\nresults written to {args.out}")
    return 0


def rate(stages: dict[str, Any], name: str) -> float | None:
    value = stages.get(name, {}).get("images_per_s")
    return float(value) if value is not None else None


def bars(stages: dict[str, Any]) -> dict[str, Any]:
    """The issue's bars: from-folder training >= 90 % of device-resident; loader >= 4x training."""
    resident, folder = rate(stages, "device_resident"), rate(stages, "train_gpu")
    found: dict[str, Any] = {}
    if resident and folder:
        found["folder_vs_resident"] = round(folder / resident, 3)
        found["folder_vs_resident_passes"] = folder >= 0.9 * resident
    training = folder or resident
    for name in ("loader_gpu", "loader_reading"):
        loader = rate(stages, name)
        if loader and training:
            found[f"{name}_vs_training"] = round(loader / training, 2)
            found[f"{name}_vs_training_passes"] = loader >= 4 * training
    return found


def summary(data: dict[str, Any]) -> None:
    stages = data["stages"]
    rows = [
        ("nvJPEG alone (files in memory)", "nvjpeg_alone"),
        ("loader: reading files (GPU path)", "loader_reading"),
        ("loader: GPU path (read, nvJPEG, crop)", "loader_gpu"),
        ("loader: Pillow path", "loader_pillow"),
        ("train: device-resident + augment", "device_resident"),
        ("train: from folder, nvJPEG", "train_gpu"),
        ("train: from folder, Pillow", "train_pillow"),
    ]
    log(f"\n{'stage':40} {'images/s':>10}  notes")
    for title, name in rows:
        stage = stages.get(name, {})
        value = stage.get("images_per_s")
        notes = []
        if "cores_busy" in stage:
            notes.append(f"{stage['workers']} workers, {stage['cores_busy']} cores busy")
        if "epochs_images_per_s" in stage:
            notes.append(f"epochs {stage['epochs_images_per_s']}")
        for key in ("skipped", "error"):
            if key in stage:
                notes.append(f"{key}: {stage[key]}")
        shown = f"{value:10,.0f}" if value is not None else f"{'-':>10}"
        log(f"{title:40} {shown}  {'; '.join(notes)}")
    for key, value in data.get("bars", {}).items():
        log(f"bar {key}: {value}")


if __name__ == "__main__":
    sys.exit(run_guarded(main))
