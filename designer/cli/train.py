"""``designer train`` and ``designer eval``; the recipe flags come from :class:`train.recipe.TrainConfig`."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from designer.cli.args import add_parameters, given
from designer.core.errors import DesignerError


def register(subparsers: Any) -> None:
    from train.recipe import TrainConfig

    train = subparsers.add_parser(
        "train",
        help="train a designed network (one GPU, or many under torchrun)",
        description="Train ARCH on DIR with the DeepMAD paper's recipe (every part a flag). Under "
        "`torchrun --nproc-per-node K -m designer.cli train ...` the same command trains with DDP.",
    )
    train.add_argument("arch", help="arch JSON (from designer solve -o) or a reference network name (resnet50, ...)")
    train.add_argument("--data", required=True, metavar="DIR", help="ImageFolder (train/, val/), CIFAR or IDX data")
    train.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory (config, metrics, checkpoints)")
    train.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint")
    train.add_argument("--stop-after", type=int, metavar="EPOCHS", help="stop this call after EPOCHS epochs")
    recipe = train.add_argument_group("recipe (defaults: the DeepMAD paper's ImageNet recipe)")
    add_parameters(recipe, TrainConfig)
    train.set_defaults(handler=run_train)

    evaluate = subparsers.add_parser("eval", help="top-1 / top-5 accuracy and images/s of a trained checkpoint")
    evaluate.add_argument("checkpoint", help="a checkpoint (.pt) or a run directory (uses its last.pt)")
    evaluate.add_argument("--data", required=True, metavar="DIR", help="data set; its val split is evaluated")
    evaluate.add_argument("--batch-size", type=int, default=256)
    evaluate.add_argument("--workers", type=int, default=8, help="data-loading processes (ImageFolder)")
    evaluate.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    evaluate.add_argument("--amp", default="auto", choices=("auto", "bf16", "fp16", "off"))
    evaluate.add_argument(
        "--decode", default="auto", choices=("auto", "gpu", "cpu"), help="JPEG decoding (ImageFolder)"
    )
    evaluate.add_argument("--no-ema", action="store_true", help="evaluate the raw weights even if an EMA is saved")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(handler=run_eval)


def _needs_train_extra() -> None:
    """Fail with the fix when the ``train`` extra (kornia, Pillow) is not installed."""
    import importlib.util

    missing = [name for name in ("kornia", "PIL") if importlib.util.find_spec(name) is None]
    if missing:
        raise DesignerError(f"training needs {' and '.join(missing)}; install them with pip install 'designer[train]'")


def run_train(args: argparse.Namespace) -> int:
    _needs_train_extra()
    from train.loop import train
    from train.recipe import TrainConfig
    from train.rundir import saved_config

    settings: dict[str, Any] = {**given(args, TrainConfig), "arch": args.arch, "data": args.data, "out": args.out}
    config = replace(saved_config(Path(args.out)), **settings) if args.resume else TrainConfig(**settings)
    train(config, resume=args.resume, stop_after=args.stop_after)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    _needs_train_extra()
    from train.evaluate import evaluate_checkpoint

    if args.batch_size < 1:
        raise DesignerError(f"--batch-size must be a positive integer, got {args.batch_size}")
    result = evaluate_checkpoint(
        args.checkpoint,
        args.data,
        batch_size=args.batch_size,
        workers=args.workers,
        device=args.device,
        amp=args.amp,
        decode=args.decode,
        ema=not args.no_ema,
        progress=not args.json,
    )
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return 0
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['arch'] or result['checkpoint']}: top-1 {100 * result['top1']:.2f}%  "
            f"top-5 {100 * result['top5']:.2f}%  loss {result['loss']:.4f}  ({result['images']} images, "
            f"{result['images_per_s']:.0f} img/s on {result['device']}, amp {result['amp']}, {result['weights']} weights)"
        )
    return 0
