"""How much of a profile build fewer timed replays would save, and what it would cost in accuracy.

Two estimates, on the CPU, from files already measured on the GPU:

* **Share**: the seconds a shipped profile's ops spend in graph replays, ``(warm-up + timed) x
  max(TARGET_MS, latency)`` per op (one replay lasts at least ``TARGET_MS``: see
  :mod:`latency.measure.torch_backend`), for the method it was built with and for ``--warmup`` /
  ``--repetitions``, against the build time its provenance records (``builds``).
* **Accuracy**: in ``benchmarks/profile_cost.py`` results (every replay kept), how far the median
  of the first ``--repetitions`` timed replays lies from the median of all of them.

    python benchmarks/replay_share.py docs/h200/replay-share.json --warmup 3 --repetitions 10 \\
        --profile profiles/h200-torch-fp16-b256.json --cost docs/h100/profile-cost-fp16.json docs/h100/profile-cost-fp32.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.parse import read_json
from latency.measure.torch_backend import TARGET_MS
from latency.predict.table import LatencyTable


def replay_seconds(table: LatencyTable, replays: int) -> float:
    """Seconds the table's ops would spend in ``replays`` graph replays each."""
    return replays * float(np.maximum(TARGET_MS, np.array(list(table.entries.values()))).sum()) / 1000.0


def share(table: LatencyTable, warmup: int, repetitions: int) -> dict[str, Any]:
    """Replay seconds as built and with the given counts, and the seconds of the calls that built it."""
    if not {"warmup", "repetitions"} <= table.provenance.keys():
        raise DesignerError(f"{table.name} records no warm-up and repetitions: give a table `designer profile` timed")
    built = table.provenance["warmup"] + table.provenance["repetitions"]
    build = sum(call["seconds"] for call in table.provenance.get("builds", []))
    now, then = replay_seconds(table, built), replay_seconds(table, warmup + repetitions)
    return {
        "profile": table.name,
        "ops": len(table.entries),
        "build_s": build,
        "replays_s": now,
        "replays_s_proposed": then,
        "saved_s": now - then,
    }


def accuracy(path: Path, repetitions: int) -> dict[str, Any]:
    """|median of the first ``repetitions`` timed replays / median of all - 1| over a cost run's ops."""
    cost = read_json(path, "profile_cost.py results")
    rows = next(iter(cost["limits"].values()))["rows"]  # the first cuDNN limit run: PyTorch's default
    if repetitions > min(len(row["replay_ms"]) for row in rows):
        raise DesignerError(f"{path} kept fewer than {repetitions} replays per op")
    gaps = np.array([abs(np.median(r["replay_ms"][:repetitions]) / np.median(r["replay_ms"]) - 1) for r in rows])
    return {
        "file": str(path),
        "ops": len(rows),
        "replays": len(rows[0]["replay_ms"]),
        "median": float(np.median(gaps)),
        "p90": float(np.quantile(gaps, 0.9)),
        "worst": float(gaps.max()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--profile", type=Path, nargs="+", required=True, help="shipped profile files")
    parser.add_argument("--cost", type=Path, nargs="*", default=[], help="benchmarks/profile_cost.py results")
    args = parser.parse_args(argv)
    if args.warmup < 0 or args.repetitions < 1:
        raise DesignerError("--warmup must be >= 0 and --repetitions >= 1")
    report = {
        "warmup": args.warmup,
        "repetitions": args.repetitions,
        "share": [share(LatencyTable.load(path), args.warmup, args.repetitions) for path in args.profile],
        "accuracy": [accuracy(path, args.repetitions) for path in args.cost],
    }
    for row in report["share"]:
        print(
            f"{row['profile']}: replays {row['replays_s']:.0f} s of a {row['build_s']} s build; {row['saved_s']:.0f} s saved"
        )
    for row in report["accuracy"]:
        print(
            f"{row['file']}: median of {args.repetitions} vs {row['replays']} replays: median {row['median']:.2%}, worst {row['worst']:.2%}"
        )
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
