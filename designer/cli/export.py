"""``designer export`` and ``designer bench``; handlers import the export machinery only when run."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from designer.cli.args import checked
from designer.core.units import parse_count
from export.options import ENGINE_TOLERANCE


def register(subparsers: Any) -> None:
    export = subparsers.add_parser(
        "export",
        help="export a network to ONNX, a TensorRT engine and/or a Triton model repository",
        description="Export an arch spec (random weights) or a checkpoint. The ONNX model is always built and "
        "checked against PyTorch in onnxruntime first; --engine and --triton-repo are built from it.",
    )
    export.add_argument(
        "model",
        type=Path,
        metavar="ARCH_OR_CHECKPOINT",
        help="arch spec JSON, checkpoint file or run directory (its last.pt)",
    )
    export.add_argument("--onnx", type=Path, metavar="PATH", help="write the ONNX model here")
    export.add_argument("--engine", type=Path, metavar="PATH", help="build a TensorRT engine (plan) here")
    export.add_argument("--precision", default="fp16", help="engine precision, fp32 or fp16 (default fp16)")
    export.add_argument("--min-batch", type=int, default=1, help="smallest batch of the engine (default 1)")
    export.add_argument("--opt-batch", type=int, default=32, help="batch the engine is tuned for (default 32)")
    export.add_argument("--max-batch", type=int, default=128, help="largest batch, also Triton's (default 128)")
    export.add_argument(
        "--workspace",
        type=checked(parse_count),
        default=4e9,
        help="TensorRT builder workspace limit in bytes (default 4G)",
    )
    export.add_argument("--timing-cache", type=Path, metavar="PATH", help="TensorRT timing cache file to reuse")
    export.add_argument("--verbose", action="store_true", help="show TensorRT's build log at INFO level")
    export.add_argument("--triton-repo", type=Path, metavar="DIR", help="add the model to this Triton model repository")
    export.add_argument("--name", help="the model's name in the Triton repository")
    export.add_argument("--instances", type=int, default=1, help="Triton model instances per GPU (default 1)")
    export.add_argument("--no-ema", action="store_true", help="export a checkpoint's raw weights, not its EMA weights")
    export.set_defaults(handler=run_export_command)

    bench = subparsers.add_parser("bench", help="time a TensorRT engine and check its outputs against onnxruntime")
    bench.add_argument("engine", type=Path, metavar="PLAN", help="engine built by designer export --engine")
    bench.add_argument("--onnx", type=Path, metavar="PATH", help="ONNX model it was built from (default PLAN.onnx)")
    bench.add_argument("--warmup", type=int, default=20, help="untimed launches per batch size (default 20)")
    bench.add_argument("--iters", type=int, default=200, help="timed launches per batch size (default 200)")
    bench.add_argument(
        "--tolerance", type=float, default=ENGINE_TOLERANCE, help="largest relative output error (default 2e-2)"
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(handler=run_bench_command)


def run_export_command(args: argparse.Namespace) -> int:
    from export.options import EngineOptions
    from export.pipeline import ExportRequest, run_export

    options = EngineOptions(
        precision=args.precision,
        min_batch=args.min_batch,
        opt_batch=args.opt_batch,
        max_batch=args.max_batch,
        workspace=int(args.workspace),
        timing_cache=args.timing_cache,
    )
    request = ExportRequest(
        source=args.model,
        onnx=args.onnx,
        engine=args.engine,
        triton_repo=args.triton_repo,
        name=args.name,
        instances=args.instances,
        engine_options=options,
        prefer_ema=not args.no_ema,
        verbose=args.verbose,
    )
    run_export(request)
    return 0


def run_bench_command(args: argparse.Namespace) -> int:
    from export.deps import check_tensorrt

    check_tensorrt()
    from export.bench import bench_engine

    result = bench_engine(args.engine, args.onnx, args.warmup, args.iters, args.tolerance)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
        return 0
    low, opt, high = result.batch_range
    print(f"{args.engine}: batch {low}..{high}, tuned for {opt}")
    for timing in result.timings:
        print(f"  {timing}")
    print(f"  matches onnxruntime at {result.parity}")
    return 0
