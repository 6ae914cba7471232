"""Where the GPU time of ``designer profile`` goes, op by op, and what cuDNN's autotuning limit changes.

    python benchmarks/profile_cost.py out.json --precision fp32 --ops 80 --limits 10,3,1

Samples ops of the shipped grid (batch 256, 224 px) stratified by their latency in a shipped
profile (``--strata-profile``), then for each cuDNN ``benchmark_limit`` (how many algorithms
``cudnn.benchmark`` tries; PyTorch's default is 10) times them all in a fresh process (cuDNN
keeps its choice per shape for the life of a process), phase by phase with the torch
backend's own steps: building the module and inputs, autotuning, graph capture, then warm-up
and timed replays with every replay's time kept (so cheaper repetition policies can be judged
from the file). Prints per-phase totals per limit and how far each limit's latencies are from
the first's. Runs on the GPU on demand (not in tests).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from latency.measure.backend import PRECISIONS, Settings
from latency.measure.grid import profile_ops
from latency.predict.ops import OpKey
from latency.predict.profiles import resolve_profile
from latency.predict.table import LatencyTable

BINS = 6


def sample_ops(strata: LatencyTable, count: int, seed: int) -> list[OpKey]:
    """``count`` grid ops, an equal share from each of :data:`BINS` log-latency bins of ``strata``."""
    ops = [op for op in profile_ops(224) if op in strata.entries]
    latency = np.log([strata.entries[op] for op in ops])
    edges = np.quantile(latency, np.linspace(0, 1, BINS + 1))
    rng = np.random.default_rng(seed)
    chosen: list[OpKey] = []
    for low, high in zip(edges[:-1], edges[1:]):
        members = [op for op, value in zip(ops, latency) if low <= value <= high and op not in chosen]
        picks = rng.choice(len(members), size=min(count // BINS, len(members)), replace=False)
        chosen += [members[i] for i in sorted(picks)]
    return chosen


def time_phases(precision: str, limit: int, ops: list[OpKey], batch: int) -> list[dict[str, Any]]:
    """Seconds of each phase and the replay times, per op, with cuDNN trying ``limit`` algorithms."""
    import torch

    from latency.measure.torch_backend import TorchBackend

    torch.backends.cudnn.benchmark_limit = limit
    backend = TorchBackend(Settings(precision))
    rows = []
    backend.time_op(ops[0], batch)  # CUDA context, cuDNN handles: kept out of the first op's figures
    for op in ops:
        marks = [time.perf_counter()]
        run = backend.op_runner(op, batch)
        torch.cuda.synchronize()
        marks.append(time.perf_counter())
        with torch.inference_mode():
            copies = backend.autotune(run)
            torch.cuda.synchronize()
            marks.append(time.perf_counter())
            graph = backend.capture(run, copies)
            torch.cuda.synchronize()
            marks.append(time.perf_counter())
            replays = backend.replay_times(graph, backend.settings.warmup, backend.settings.repetitions)
            marks.append(time.perf_counter())
        del graph, run
        phases = dict(zip(("setup_s", "autotune_s", "capture_s", "replays_s"), np.diff(marks).tolist()))
        ms = statistics.median(replays) / copies
        rows.append({"op": op.as_tuple(), "copies": copies, "replay_ms": replays, "ms": ms, **phases})
    return rows


def limit_list(text: str) -> list[int]:
    """``"10,3,1"`` as ``[10, 3, 1]`` (argparse reports anything else as a bad --limits)."""
    try:
        limits = [int(value) for value in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 10,3,1, got {text!r}") from None
    if any(limit < 0 for limit in limits):
        raise argparse.ArgumentTypeError("limits must be >= 0 (0: every algorithm)")
    return limits


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--precision", choices=PRECISIONS["torch"], default="fp32")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--ops", type=int, default=80, help=f"ops to sample (at least {BINS}, one per bin)")
    parser.add_argument(
        "--limits", type=limit_list, default="10,3,1", help="cuDNN benchmark_limit values, comma-separated"
    )
    parser.add_argument("--strata-profile", default="h100-torch-fp16-b256")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ops < BINS:
        parser.error(f"--ops must be at least {BINS} (one op per latency bin)")
    try:
        if args.worker is not None:
            ops = [OpKey(*item) for item in json.loads(sys.stdin.read())]
            json.dump(time_phases(args.precision, args.worker, ops, args.batch), sys.stdout)
            return 0
        limits = args.limits
        ops = sample_ops(LatencyTable.load(resolve_profile(args.strata_profile)), args.ops, args.seed)
        results: dict[str, Any] = {"precision": args.precision, "batch": args.batch, "limits": {}}
        for limit in limits:
            command = [sys.executable, __file__, str(args.output), "--precision", args.precision]
            command += ["--batch", str(args.batch), "--worker", str(limit)]
            start = time.perf_counter()
            done = subprocess.run(
                command, input=json.dumps([op.as_tuple() for op in ops]), capture_output=True, text=True, check=True
            )
            rows = json.loads(done.stdout)
            results["limits"][str(limit)] = {"wall_s": time.perf_counter() - start, "rows": rows}
            totals = {
                phase: sum(row[phase] for row in rows) for phase in ("setup_s", "autotune_s", "capture_s", "replays_s")
            }
            print(
                f"limit {limit}: {len(rows)} ops, " + ", ".join(f"{k} {v:.1f}" for k, v in totals.items()), flush=True
            )
        first = results["limits"][str(limits[0])]["rows"]
        for limit in limits[1:]:
            ratio = np.array([row["ms"] for row in results["limits"][str(limit)]["rows"]]) / [r["ms"] for r in first]
            print(
                f"limit {limit} vs {limits[0]}: latency ratio median {np.median(ratio):.4f}, "
                f"p90 |dev| {np.quantile(np.abs(ratio - 1), 0.9):.4f}, max {np.max(np.abs(ratio - 1)):.4f}"
            )
        atomic_write_text(args.output, json.dumps(results, indent=1))
    except DesignerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:  # the worker printed its own one-line error
        lines = (error.stderr or "").strip().splitlines() or [f"the timing process failed (exit {error.returncode})"]
        print(lines[-1] if lines[-1].startswith("error:") else f"error: {lines[-1]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
