"""Training throughput (images/s) of networks at the largest batch that fits, per AMP dtype.

Times exactly the step ``designer train`` runs (``train.engine.TrainStep``: autocast forward,
label-smoothed cross-entropy, scaled backward, Nesterov SGD step) in channels_last on synthetic
device-resident data, so data loading is left out; ``--augment`` adds the recipe's GPU
augmentation and mixing of uint8 batches. The largest batch is found once per network (the
first AMP dtype) by doubling and then bisecting on out-of-memory errors, and reused for the
other dtypes, which take the same memory. Each finished measurement is written to ``--out``
at once, so a run cut short keeps what it measured.

    designer solve --family bottleneck --flops 4.1G --params 25.6M -o r50_deepmad.json
    python benchmarks/train_throughput.py r50_deepmad.json resnet50 --out train_throughput.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.analysis import analyze_spec
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.spec import ArchSpec
from train.augment import TrainTransform
from train.distributed import Dist, pick_device
from train.engine import TrainStep, autocast_dtype, parallel, resolve_arch, training_model
from train.optim import build_optimizer
from train.recipe import TrainConfig


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archs", nargs="+", metavar="ARCH", help="arch JSON files or reference names (resnet50)")
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("--amp", nargs="+", default=["bf16", "fp16"], choices=["bf16", "fp16", "off"])
    parser.add_argument("--batch", type=int, help="measure at this batch instead of searching the largest")
    parser.add_argument("--max-batch", type=int, default=4096, help="stop the search here")
    parser.add_argument("--reference-batch", type=int, default=256, help="also measure here (0 = skip)")
    parser.add_argument("--warmup", type=int, default=8, help="untimed steps before timing")
    parser.add_argument("--steps", type=int, default=25, help="timed steps")
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (slow to start)")
    parser.add_argument("--augment", action="store_true", help="include the GPU augmentation and mixing")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    return parser.parse_args(argv)


class Bench:
    """One network, one AMP dtype: a model, its optimizer and a step; ``run(batch, steps)`` times it."""

    def __init__(self, spec: ArchSpec, amp: str, args: argparse.Namespace, device: torch.device) -> None:
        self.spec, self.device, self.augment = spec, device, args.augment
        self.config = TrainConfig(
            arch=spec.name, data="synthetic", out="-", epochs=1, warmup_epochs=0, amp=amp,
            channels_last=args.channels_last, compile=args.compile,
        )  # fmt: skip
        dist = Dist(0, 1, 0, device)
        self.model = training_model(spec, dist, channels_last=args.channels_last)
        optimizer, _ = build_optimizer(self.model, self.config, steps_per_epoch=1)
        network = parallel(self.model, dist, compile=args.compile)
        self.step = TrainStep(network, optimizer, amp=autocast_dtype(amp, device), device=device, label_smoothing=0.1)
        side = spec.resolution
        self.transform = TrainTransform(self.config, side, spec.in_channels, (0.45,) * 3, (0.23,) * 3, spec.num_classes)
        self.source_side = round(side / self.config.eval_crop)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, self.spec.num_classes, (size,), device=self.device)
        if self.augment:
            shape = (size, self.spec.in_channels, self.source_side, self.source_side)
            return torch.randint(0, 256, shape, dtype=torch.uint8, device=self.device), labels
        x = torch.randn(size, self.spec.in_channels, self.spec.resolution, self.spec.resolution, device=self.device)
        return x.contiguous(
            memory_format=torch.channels_last if self.config.channels_last else torch.contiguous_format
        ), labels

    def run(self, size: int, steps: int) -> float:
        """Seconds per step over ``steps`` steps at batch ``size``."""
        images, labels = self.batch(size)
        self._sync()
        start = time.perf_counter()
        for _ in range(steps):
            x, targets = self.transform(images, labels) if self.augment else (images, labels)
            self.step(x, targets)
        self._sync()
        return (time.perf_counter() - start) / steps

    def fits(self, size: int) -> bool:
        try:
            self.run(size, 2)
            return True
        except RuntimeError as error:  # torch.OutOfMemoryError, or cuDNN failing to allocate
            if not out_of_memory(error):
                raise
            self.release()
            return False

    def release(self) -> None:
        """Drop the gradients and cached blocks a failed step left behind."""
        self.step.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def out_of_memory(error: RuntimeError) -> bool:
    text = str(error)
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in text or "CUDNN_STATUS_ALLOC" in text


def largest_batch(bench: Bench, limit: int) -> int:
    """Double from 8 until out of memory (or ``limit``), then bisect to within 1/16 (multiples of 8)."""
    good, bad = 0, None
    size = 8
    while size <= limit:
        log(f"    batch {size}: ", end="")
        if not bench.fits(size):
            log("out of memory")
            bad = size
            break
        log("fits")
        good, size = size, size * 2
    if good == 0:
        raise SystemExit("error: not even a batch of 8 fits on this device")
    while bad is not None and bad - good > max(8, good // 16):
        middle = (good + bad) // 2 // 8 * 8
        log(f"    batch {middle}: ", end="")
        fits = bench.fits(middle)
        log("fits" if fits else "out of memory")
        good, bad = (middle, bad) if fits else (good, middle)
    return good


def measure(bench: Bench, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Throughput at ``size``, stepping down by 1/16 if a longer run no longer fits."""
    while True:
        if bench.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(bench.device)
        try:
            bench.run(size, args.warmup)
            seconds = bench.run(size, args.steps)
            break
        except RuntimeError as error:
            if not out_of_memory(error):
                raise
            bench.release()
            size -= max(8, size // 16 // 8 * 8)
            log(f"    out of memory while timing; retrying at batch {size}")
            if size < 8:
                raise SystemExit("error: the network stopped fitting while it was timed") from None
    peak = torch.cuda.max_memory_allocated(bench.device) / 2**30 if bench.device.type == "cuda" else None
    return {"batch": size, "images_per_s": size / seconds, "step_ms": 1000 * seconds, "peak_memory_gib": peak}


def log(text: str, end: str = "\n") -> None:
    print(text, end=end, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        device = pick_device(args.device, 0)
        specs = [resolve_arch(arch) for arch in args.archs]
    except DesignerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "settings": {k: v for k, v in vars(args).items() if k not in ("archs", "out")},
        "results": [],
    }
    for arch, spec in zip(args.archs, specs):
        analysis = analyze_spec(spec)
        batch = args.batch
        for amp in args.amp:
            log(
                f"{arch} ({spec.name}, {analysis.params / 1e6:.1f}M params, {analysis.flops / 1e9:.2f}G FLOPs), amp {amp}"
            )
            bench = Bench(spec, amp, args, device)
            batch = batch or largest_batch(bench, args.max_batch)
            result = {"arch": arch, "name": spec.name, "digest": spec.digest(), "params": analysis.params,
                      "flops": analysis.flops, "resolution": spec.resolution, "amp": amp,
                      "largest": measure(bench, batch, args)}  # fmt: skip
            if args.reference_batch and args.reference_batch <= batch:
                result["reference"] = measure(bench, args.reference_batch, args)
            report["results"].append(result)
            atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
            for key in ("largest", "reference"):
                if key in result:
                    row = result[key]
                    log(
                        f"  batch {row['batch']:5d}: {row['images_per_s']:9.1f} images/s  {row['step_ms']:8.1f} ms/step"
                    )
            del bench
            if device.type == "cuda":
                torch.cuda.empty_cache()
    log(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
