"""How much the design a time-limited solve returns depends on the local search's seed.

The solver's iterated local search is seeded (``solve(..., seed=)``); when the time limit stops
the proof, the design returned is the best one found in time, so its objective varies with the
seed. This solves each budget once per seed, in this process, and writes each objective and gap
(CPU only)::

    python benchmarks/solver_seeds.py docs/solver_seeds.json --seeds 6

In one process, every solve after a budget's first finds its grid priced (a cache) and has the
whole limit for the search. ``--fresh`` runs each solve in a process of its own instead, which prices
its grid within its limit as ``designer solve`` does: what a user gets from one command.

To compare two versions of the solver, run the same command in a checkout of each (with that
checkout first on ``PYTHONPATH``), one after the other or side by side on a machine with a core each.

``--budget FAMILY:FLOPS:PARAMS`` (repeatable) solves other budgets than the default four;
``--throughput FAMILY:TARGET:PROFILE`` (repeatable) solves throughput-targeted cases instead of the
budgets; each of their solves prices its grid afresh within its limit, as ``designer solve`` does::

    python benchmarks/solver_seeds.py OUT.json --throughput bottleneck:3000:h100-torch-fp32
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from provenance import report_header
from solve_times import budget_case, throughput_case

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.request import DesignRequest
from designer.core.solver import Constraint, Solution, _priced_grid, solve
from designer.core.space import SearchSpace
from designer.core.units import parse_count
from designer.workflows.design import load_latency_model, request_constraints

BUDGETS = [
    ("bottleneck", "1.8G", "11.7M"),
    ("bottleneck", "3.6G", "21.8M"),
    ("bottleneck", "4.1G", "25.6M"),
    ("mbv2", "4.5G", "29M"),
]
"""Four budgets of ``docs/solve_times.json`` whose default solve is not proven within its limit: the
ResNet ones and the middle mobile one."""


def solve_once(
    request: DesignRequest, time_limit: float, seed: int, constraints: list[Constraint] | None = None
) -> Solution:
    """One time-limited solve of a request with the given seed (its constraints built here unless
    given; a throughput target's grid priced afresh, within the limit)."""
    if constraints is None:
        constraints = request_constraints(request, load_latency_model(request))
    if request.target_throughput is not None:
        _priced_grid.cache_clear()
    return solve(SearchSpace(request), constraints, request.rho0, time_limit, seed=seed)


def seed_rows(request: DesignRequest, args: str, seeds: int, time_limit: float, fresh: bool) -> dict[str, object]:
    """One request solved once per seed (with ``fresh``, each in a new process, which builds its
    constraints itself): objectives, gaps and their spread."""
    constraints = None if fresh else request_constraints(request, load_latency_model(request))
    solutions = []
    for seed in range(seeds):
        if fresh:
            # not a Pool: its workers are daemons, which may not fork the solver's relaxation
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                solutions.append(pool.submit(solve_once, request, time_limit, seed).result())
        else:
            solutions.append(solve_once(request, time_limit, seed, constraints))
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
    parser.add_argument(
        "--budget",
        type=budget_case,
        action="append",
        metavar="FAMILY:FLOPS:PARAMS",
        help="a budget instead of the default four, repeatable",
    )
    parser.add_argument("--fresh", action="store_true", help="each solve in a new process, as `designer solve` runs")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.time_limit <= 0:
        raise DesignerError("--seeds must be at least 1 and --time-limit above 0")
    cases = [
        (DesignRequest(family=family, flops=parse_count(flops), params=parse_count(params)), flops, params)
        for family, flops, params in (args.budget or ([] if args.throughput else BUDGETS))
    ]
    requests = [
        (request, f"--family {request.family} --flops {flops} --params {params}") for request, flops, params in cases
    ]
    for family, target, profile in args.throughput or []:
        request = DesignRequest(family=family, target_throughput=parse_count(target), profile=profile)
        requests.append((request, f"--family {family} --target-throughput {target} --profile {profile}"))
    rows = []
    for request, text in requests:
        rows.append(seed_rows(request, text, args.seeds, args.time_limit, args.fresh))
        row = rows[-1]
        print(f"{row['args']}: mean {row['mean']:,.0f}, worst {row['worst']:,.0f}, best {row['best']:,.0f}", flush=True)
    header = report_header()
    header["machine"]["cpus"] = os.cpu_count()
    report = {
        **header,
        "time_limit": args.time_limit,
        "fresh": args.fresh,
        "rows": rows,
    }
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
