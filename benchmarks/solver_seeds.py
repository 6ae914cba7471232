"""How much the design a time-limited solve returns depends on the local search's seed.

The solver's iterated local search is seeded (``solve(..., seed=)``); when the time limit stops
the proof, the design returned is the best one found in time, so its objective varies with the
seed. This solves each budget once per seed, in this process, and writes each objective and gap
(CPU only)::

    python benchmarks/solver_seeds.py docs/solver_seeds.json --seeds 6

To compare two versions of the solver, run the same command in a checkout of each (with that
checkout first on ``PYTHONPATH``), one after the other or side by side on a machine with a core each.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.request import DesignRequest
from designer.core.solver import solve
from designer.core.space import SearchSpace
from designer.core.units import parse_count
from designer.workflows.design import budget_constraints

BUDGETS = [
    ("bottleneck", "1.8G", "11.7M"),
    ("bottleneck", "3.6G", "21.8M"),
    ("bottleneck", "4.1G", "25.6M"),
    ("mbv2", "4.5G", "29M"),
]
"""Four budgets of ``docs/solve_times.json`` whose default solve is not proven within its limit: the
ResNet ones and the middle mobile one."""


def seed_rows(family: str, flops: str, params: str, seeds: int, time_limit: float) -> dict[str, object]:
    """One budget solved once per seed: objectives, gaps and their spread."""
    request = DesignRequest(family=family, flops=parse_count(flops), params=parse_count(params))
    space, constraints = SearchSpace(request), budget_constraints(request)
    solutions = [solve(space, constraints, request.rho0, time_limit, seed=seed) for seed in range(seeds)]
    objectives = [solution.objective for solution in solutions]
    return {
        "args": f"--family {family} --flops {flops} --params {params}",
        "objectives": objectives,
        "gaps": [solution.gap for solution in solutions],
        "mean": statistics.fmean(objectives),
        "worst": min(objectives),
        "best": max(objectives),
    }


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--seeds", type=int, default=6, help="seeds 0 .. N-1 per budget")
    parser.add_argument(
        "--time-limit", type=float, default=9.3, help="seconds per solve (what a 10-s `designer solve` leaves it)"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.time_limit <= 0:
        raise DesignerError("--seeds must be at least 1 and --time-limit above 0")
    rows = []
    for family, flops, params in BUDGETS:
        rows.append(seed_rows(family, flops, params, args.seeds, args.time_limit))
        row = rows[-1]
        print(f"{row['args']}: mean {row['mean']:,.0f}, worst {row['worst']:,.0f}, best {row['best']:,.0f}", flush=True)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "time_limit": args.time_limit,
        "rows": rows,
    }
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
