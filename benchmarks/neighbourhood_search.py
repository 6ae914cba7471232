"""How far the solver's search around the incumbent raises a design, over time.

Once the Lagrangian relaxation bounds the whole space tighter than branch and bound's boxes, the
solver's batches search around the incumbent (``_Search.neighbourhoods`` in
``designer/core/solver.py``): branch and bound over the box of every index within a few steps of
it, grown by one step whenever it holds nothing better. This runs that search alone, for
``--seconds``, from the design of an earlier report of ``benchmarks/relaxation_gap.py`` (the best
design of a 30-s solve, by default ``docs/relaxation_gap.json``'s) or from a solve of ``--time-limit``
seconds, and writes every design it finds and every box it searched without a better one (CPU only)::

    python benchmarks/neighbourhood_search.py docs/neighbourhood_search.json --design docs/relaxation_gap.json
"""

from __future__ import annotations

import datetime
import json
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from relaxation_gap import add_budget_options, budget_request, design_indices, read_design

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.relaxation import THREADS
from designer.core.solver import _Problem, _Search, solve
from designer.core.space import SearchSpace
from designer.workflows.design import budget_constraints


def search_around(problem: _Problem, point: dict[str, float], seconds: float) -> list[dict[str, Any]]:
    """The search around ``point`` (a design's values) for ``seconds``: a row per better design
    found and per box searched without one (its room: the steps from the incumbent it spans)."""
    indices = design_indices(problem, point)
    search = _Search(problem, seconds, None, time.perf_counter())
    if not search.adopt(np.array([indices[name] for name in problem.dims])):
        raise DesignerError("--design: its design does not meet this budget; give the budget it was found for")
    rows: list[dict[str, Any]] = [{"seconds": 0.0, "objective": search.best_value, "room": 0}]
    room = 1
    with ThreadPoolExecutor(THREADS) as pool:
        steps = search.neighbourhoods(pool, THREADS)
        for step in steps:
            elapsed = time.perf_counter() - search.start
            if step > room:
                rows.append({"seconds": elapsed, "searched_room": step - 1, "objective": search.best_value})
            if search.best_value > rows[-1]["objective"]:
                rows.append({"seconds": elapsed, "objective": search.best_value, "room": step})
            room = step
    rows.append({"seconds": time.perf_counter() - search.start, "objective": search.best_value, "end": True})
    rows[-1]["design"] = problem.design(search.best_point, search.best_last)
    return rows


def main() -> None:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    add_budget_options(parser)
    parser.add_argument("--design", type=Path, help="start from this relaxation_gap.py report's design")
    parser.add_argument("--time-limit", type=float, default=10.0, help="without --design: the solve's seconds")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the search around it runs")
    args = parser.parse_args()
    if args.time_limit <= 0 or args.seconds <= 0:
        raise DesignerError("--time-limit and --seconds must be above 0")
    request = budget_request(args)
    space = SearchSpace(request)
    problem = _Problem(space, budget_constraints(request), request.rho0)
    if args.design is not None:
        start = read_design(args.design)["point"]
    else:
        start = solve(space, budget_constraints(request), request.rho0, args.time_limit).point
    rows = search_around(problem, start, args.seconds)
    for row in rows:
        what = f"room {row['searched_room']} searched" if "searched_room" in row else "design"
        print(f"{row['seconds']:7.2f} s  {what:18} {row['objective']:12,.1f}", flush=True)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "args": sys.argv[1:],
        "rows": rows,
    }
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(run_guarded(main))
