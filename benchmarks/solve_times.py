"""Wall time of whole `designer solve` commands for the budgets the core issue names.

Each command runs in a fresh process (imports included), as a user runs it; the throughput
cases run twice: the first fits the profile's predictor, the second reuses the cached fit.
The cache goes to a temporary folder so the first run is always a fit. Writes one JSON file::

    python benchmarks/solve_times.py docs/solve_times.json

Other throughput cases replace the two H100 ones, e.g. the imported V100 tables (after
``designer profile import-tinynas ../shared/data/tinynas-v100/conv_data.out --gpu v100 --precision fp32``)::

    python benchmarks/solve_times.py docs/v100-solve.json --no-budgets --throughput bottleneck:1200:v100-trt-fp32
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.units import parse_count

BUDGETS = [
    ("basic", "1.8G", "11.7M"),
    ("basic", "3.6G", "21.8M"),
    ("basic", "4.1G", "25.6M"),
    ("bottleneck", "1.8G", "11.7M"),
    ("bottleneck", "3.6G", "21.8M"),
    ("bottleneck", "4.1G", "25.6M"),
    ("mbv2", "0.39G", "5.3M"),
    ("mbv2", "0.32G", "3.5M"),
    ("mbv2", "4.5G", "29M"),
    ("mbv2", "8.7G", "50M"),
    ("mbv2", "15.4G", "89M"),
]
THROUGHPUT = [("bottleneck", "12000", "h100-torch-fp16"), ("bottleneck", "3000", "h100-torch-fp32")]
RESULT_KEYS = ("entropy", "objective", "proven_optimal", "gap", "params", "flops", "predicted_throughput", "profile")
"""Fields of ``designer solve --json`` kept in each row (those the result has)."""


def timed_solve(arguments: list[str], env: dict[str, str], errors_allowed: bool = False) -> dict[str, object]:
    """One `designer solve ... --json` in a fresh process: its wall time and result (or, where
    ``errors_allowed``, its exit code and error line)."""
    command = [sys.executable, "-m", "designer.cli", "solve", *arguments, "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=not errors_allowed)
    wall = time.perf_counter() - start
    row: dict[str, object] = {"args": " ".join(arguments), "wall_seconds": wall}
    if done.returncode != 0:
        return {**row, "exit_code": done.returncode, "error": done.stderr.strip().splitlines()[-1]}
    result = json.loads(done.stdout)
    row["solve_seconds"] = result["solve_seconds"]
    row.update({key: result[key] for key in RESULT_KEYS if key in result})
    return row


def throughput_case(text: str) -> tuple[str, str, str]:
    """``"bottleneck:1200:v100-trt-fp32"`` as ``("bottleneck", "1200", "v100-trt-fp32")``."""
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected FAMILY:TARGET:PROFILE, got {text!r}")
    family, target, profile = parts
    return family, target, profile


def budget_case(text: str) -> tuple[str, str, str]:
    """``"bottleneck:4.13G:25.55M"`` as ``("bottleneck", "4.13G", "25.55M")``."""
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected FAMILY:FLOPS:PARAMS, got {text!r}")
    try:
        parse_count(parts[1]), parse_count(parts[2])
    except DesignerError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    family, flops, params = parts
    return family, flops, params


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument(
        "--throughput",
        type=throughput_case,
        action="append",
        metavar="FAMILY:TARGET:PROFILE",
        help="a throughput-targeted case, repeatable (default: the two H100 profiles)",
    )
    parser.add_argument("--no-budgets", action="store_true", help="only the throughput cases")
    parser.add_argument(
        "--case", action="append", default=[], metavar="ARGS", help="other solve arguments, as one string, repeatable"
    )
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        # PYTHONSAFEPATH (Python 3.11 on): `python -m` would put the working directory first on the
        # path, so a checkout's own `designer` would shadow the version PYTHONPATH names
        env = {**os.environ, "DESIGNER_CACHE_DIR": cache, "PYTHONSAFEPATH": "1"}
        for family, flops, params in [] if args.no_budgets else BUDGETS:
            rows.append(timed_solve(["--family", family, "--flops", flops, "--params", params], env))
            print(f"{rows[-1]['args']}: {rows[-1]['wall_seconds']:.2f} s", flush=True)
        for case in args.case:
            rows.append(timed_solve(case.split(), env, errors_allowed=True))
            print(f"{case}: {rows[-1]['wall_seconds']:.2f} s", flush=True)
        for family, target, profile in args.throughput or ([] if args.case else THROUGHPUT):
            for attempt in ("first (fits the predictor)", "again (cached fit)"):
                arguments = ["--family", family, "--target-throughput", target, "--profile", profile]
                rows.append({**timed_solve(arguments, env), "run": attempt})
                print(f"{rows[-1]['args']}, {attempt}: {rows[-1]['wall_seconds']:.2f} s", flush=True)
    machine = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    report = {"machine": machine, "rows": rows}
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
