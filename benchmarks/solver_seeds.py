"""How much the design a time-limited solve returns depends on the local search's seed.

The solver's iterated local search is seeded (``solve(..., seed=)``); when the time limit stops
the proof, the design returned is the best one found in time, so its objective varies with the
seed. This solves each budget once per seed, in this process, and writes each objective and gap
(CPU only)::

    python benchmarks/solver_seeds.py docs/solver_seeds.json --seeds 6

To compare two versions of the solver, run the same command in a checkout of each (with that
checkout first on ``PYTHONPATH``), one after the other or side by side on a machine with a core each.

``--throughput FAMILY:TARGET:PROFILE`` (repeatable) solves throughput-targeted cases instead of the
budgets; each of their solves prices its grid afresh within its limit, as ``designer solve`` does::

    python benchmarks/solver_seeds.py OUT.json --throughput bottleneck:3000:h100-torch-fp32
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
from pathlib import Path

from solve_times import throughput_case

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.request import DesignRequest
from designer.core.solver import _priced_grid, solve
from designer.core.space import SearchSpace
from designer.core.units import parse_count
from designer.workflows.design import budget_constraints, load_latency_model, throughput_constraint

BUDGETS = [
    ("bottleneck", "1.8G", "11.7M"),
    ("bottleneck", "3.6G", "21.8M"),
    ("bottleneck", "4.1G", "25.6M"),
    ("mbv2", "4.5G", "29M"),
]
"""Four budgets of ``docs/solve_times.json`` whose default solve is not proven within its limit: the
ResNet ones and the middle mobile one."""


def seed_rows(request: DesignRequest, args: str, seeds: int, time_limit: float) -> dict[str, object]:
    """One request solved once per seed: objectives, gaps and their spread. A throughput target's
    grid is priced afresh for each solve, inside its time limit."""
    model = load_latency_model(request)
    space = SearchSpace(request)
    constraints = budget_constraints(request)
    if model is not None:
        assert request.target_throughput is not None
        constraints.append(throughput_constraint(model, request.target_throughput))
    solutions = []
    for seed in range(seeds):
        if model is not None:
            _priced_grid.cache_clear()
        solutions.append(solve(space, constraints, request.rho0, time_limit, seed=seed))
    objectives = [solution.objective for solution in solutions]
    return {
        "args": args,
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
    parser.add_argument(
        "--throughput",
        type=throughput_case,
        action="append",
        metavar="FAMILY:TARGET:PROFILE",
        help="a throughput-targeted case instead of the budgets, repeatable",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.time_limit <= 0:
        raise DesignerError("--seeds must be at least 1 and --time-limit above 0")
    cases = [
        (DesignRequest(family=family, flops=parse_count(flops), params=parse_count(params)), flops, params)
        for family, flops, params in ([] if args.throughput else BUDGETS)
    ]
    requests = [
        (request, f"--family {request.family} --flops {flops} --params {params}") for request, flops, params in cases
    ]
    for family, target, profile in args.throughput or []:
        request = DesignRequest(family=family, target_throughput=parse_count(target), profile=profile)
        requests.append((request, f"--family {family} --target-throughput {target} --profile {profile}"))
    rows = []
    for request, text in requests:
        rows.append(seed_rows(request, text, args.seeds, args.time_limit))
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
