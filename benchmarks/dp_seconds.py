"""How long one DP of the Lagrangian relaxation takes over the whole space, and a digest of its values.

The relaxation (``designer/core/relaxation.py``) evaluates its dual by dynamic programming, tenths of
a second per DP in the whole space of the ResNet-50 and DeepMAD-29M budgets, and the solver's
bound within its time limit is as tight as the DPs it fits. This script builds the root box and the
multipliers fitted to the best starting design (:meth:`_Problem.seeds`, no search: the same for
every version), then times ``--repeats`` DPs (:meth:`Relaxation.by_last`, single-threaded as in the
solver's forked child) per case, on the CPU, and prints the median seconds and a SHA-256 digest of
the maxima per last width. The same command in a checkout of another version, with ``PYTHONPATH`` set
to it, times that version; equal digests say the DPs give the same values, bit for bit::

    python benchmarks/dp_seconds.py docs/dp_seconds.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from provenance import report_header
from solve_times import budget_case

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.relaxation import Box
from designer.core.request import DesignRequest
from designer.core.solver import _Problem
from designer.core.space import SearchSpace
from designer.core.units import parse_count
from designer.workflows.design import budget_constraints

CASES = ("bottleneck:4.13G:25.55M", "mbv2:4.5G:29M")
"""family:FLOPs:params, by default the issue's ResNet-50 budget and DeepMAD-29M's."""


def root_of(case: str) -> tuple[_Problem, Box, dict[str, int], float]:
    """The problem of one case (family:FLOPs:params), its root box, and its best starting design
    (indices; :meth:`_Problem.seeds`, no search, so the same for every version) with its objective."""
    try:
        family, flops, params = budget_case(case)
        request = DesignRequest(family=family, flops=parse_count(flops), params=parse_count(params))
    except (argparse.ArgumentTypeError, DesignerError) as error:
        raise DesignerError(
            f"--case {case!r}: give family:FLOPs:params, e.g. bottleneck:4.13G:25.55M ({error})"
        ) from None
    problem = _Problem(SearchSpace(request), budget_constraints(request), request.rho0)
    box = problem.root_box()
    if box is None:
        raise DesignerError(f"--case {case!r}: no design fits this budget")
    seeds = problem.seeds()
    objective, widest = problem.exact(seeds)
    best = int(np.argmax(objective))
    point = {name: int(seeds[best][d]) for d, name in enumerate(problem.dims)}
    point[problem.last] = int(widest[best])
    return problem, box, point, float(objective[best])


def dp_seconds(case: str, repeats: int) -> dict[str, Any]:
    """Each DP's wall seconds at the root of one case, and the digest of the last one's values."""
    problem, box, point, objective = root_of(case)
    relaxation = problem.relaxation
    relaxation.threads = 1
    start = relaxation.start(point)
    spread = relaxation.spread(box, objective, relaxation.ceiling(box, start))
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        values, _ = relaxation.by_last(box, start, spread)
        seconds.append(time.perf_counter() - began)
    digest = hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()
    return {"case": case, "seconds": seconds, "median": float(np.median(seconds)), "digest": digest}


def main() -> None:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="JSON report")
    parser.add_argument("--case", action="append", help=f"family:FLOPs:params, repeatable (default {', '.join(CASES)})")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if args.repeats < 1:
        raise DesignerError("--repeats must be at least 1")
    rows = []
    for case in args.case or CASES:
        row = dp_seconds(case, args.repeats)
        print(f"{case}: {row['median'] * 1000:.1f} ms per DP (median of {args.repeats})  digest {row['digest'][:16]}")
        rows.append(row)
    report = {**report_header(), "rows": rows}
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(run_guarded(main))
