"""Where the Lagrangian relaxation's gap comes from, for one budget of the whole design space.

The solver proves a design optimal when its bound falls to the design's objective; in the whole
ResNet space it does not within seconds (``docs/solve_times.json``). This script finds a good
design (a ``designer solve`` with a time limit), then bounds, with the relaxation of
``designer/core/relaxation.py`` and its dual, boxes that each keep that design:

* the whole space (the solver's root), after ``--root-dps`` DPs of the dual and after 150;
* the penalised stages' depths each kept within ``--depth-room`` blocks of the design's;
* the stem and every stage width fixed at the design's (the entropy's stage weights then exact);
* both;
* the widths fixed and every stage's depth within one block of the design's, then fixed at it.

Last, the whole space is bounded as the solver does it (:meth:`Relaxation.refine`, from that design,
closing what cannot beat it) for each of ``--refine-seconds``: how far the bound gets in a given
time, without the solver's search around it; and so is the box of every design with the design's
depths (widths, inner widths and kernels free): how far the widths alone keep the bound from the
design once no depth is left to choose.

A bound near the design's objective in a box says the relaxation is tight there (the dual stops
once it is below: the box is then closed); what each
restriction removes from the root's gap is what a relaxation that handled it exactly could gain.
The last two rows tell what is left at fixed widths: the relaxation treats each stage's depth as
if it could take any value between its range's ends (the Lagrangian is linear in it), so a gap
that closes only once the depths are fixed comes from their integrality.
CPU only::

    python benchmarks/relaxation_gap.py docs/relaxation_gap.json --family bottleneck --flops 4.13G --params 25.55M

To compare two versions of the relaxation on one design, run this script with ``PYTHONPATH`` set to
a checkout of the other version and ``--design`` naming the first run's report.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import designer.core.relaxation as relaxation_module
from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.relaxation import Box
from designer.core.request import DesignRequest
from designer.core.solver import _Problem, solve
from designer.core.space import SearchSpace
from designer.core.units import parse_count
from designer.workflows.design import budget_constraints

DUAL_ITERATIONS = 150
"""DP evaluations of the dual per box (the solver's root uses 15), enough for the bound to settle."""


def _restricted(
    problem: _Problem, box: Box, point: dict[str, int], widths: bool, depth_room: int | None, every_depth: bool
) -> Box:
    """``box`` with the stem and stage widths fixed at ``point``'s and/or the penalised depths (with
    ``every_depth``, all depths) within ``depth_room`` blocks of it."""
    restricted = dict(box)
    stages = range(1, problem.space.body_stages + 1)
    if widths:
        for name in ("stem", *(f"width{s}" for s in stages)):
            restricted[name] = (point[name], point[name])
    if depth_room is not None:
        for name in [f"depth{s}" for s in stages] if every_depth else problem.depths:
            top = len(problem.grids[name]) - 1
            restricted[name] = (max(point[name] - depth_room, 0), min(point[name] + depth_room, top))
    return restricted


def add_budget_options(parser: Parser) -> None:
    """``--family``, ``--flops`` and ``--params``, by default the ResNet-50 budget of issue 13."""
    parser.add_argument("--family", default="bottleneck")
    parser.add_argument("--flops", default="4.13G")
    parser.add_argument("--params", default="25.55M")


def budget_request(args: argparse.Namespace) -> DesignRequest:
    """The design request of the options :func:`add_budget_options` adds."""
    return DesignRequest(family=args.family, flops=parse_count(args.flops), params=parse_count(args.params))


def read_design(path: Path) -> dict[str, Any]:
    """The design of an earlier report of this script (its objective and point, by value)."""
    try:
        design = json.loads(path.read_text())["design"]
        float(design["objective"]), dict(design["point"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DesignerError(f"--design {path}: not a report of relaxation_gap.py ({error!r})") from None
    return design


def design_indices(problem: _Problem, point: dict[str, float]) -> dict[str, int]:
    """A design's grid index of every variable of the problem's space (its values must lie on the grids)."""
    if set(point) != set(problem.grids) or any(value not in problem.grids[name] for name, value in point.items()):
        raise DesignerError(
            "--design: its design is not a point of this space; give the --family and budget it was found for"
        )
    return {name: int(np.searchsorted(problem.grids[name], value)) for name, value in point.items()}


def gap_rows(
    request: DesignRequest,
    time_limit: float,
    depth_room: int,
    refine_seconds: list[float],
    root_dps: list[int],
    design: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[dict[str, object]], list[dict[str, object]]]:
    """The design found in ``time_limit`` seconds (or ``design``, a report's), the relaxation's bound over the whole space after
    each of ``root_dps`` DPs of the dual and over each box, and the solver's refinement of the whole
    space from that design after each of ``refine_seconds``."""
    space = SearchSpace(request)
    if design is None:
        found = solve(space, budget_constraints(request), request.rho0, time_limit)
        design = {"objective": found.objective, "entropy": found.entropy, "gap": found.gap, "point": found.point}
    problem = _Problem(space, budget_constraints(request), request.rho0)
    point = design_indices(problem, design["point"])
    objective = float(design["objective"])
    lo = np.array([point[name] for name in problem.dims])
    root = problem.relaxation_box(np.zeros_like(lo), problem.sizes - 1)
    assert root is not None
    relaxation = problem.relaxation
    start = relaxation.start(point)
    rows = []
    boxes: list[tuple[str, bool, int | None, bool, int]] = [
        (f"whole space, {dps} DPs", False, None, False, dps) for dps in root_dps
    ]
    for label, widths, room, every_depth in (
        ("whole space", False, None, False),
        (f"penalised depths within {depth_room} blocks", False, depth_room, False),
        ("stem and stage widths fixed", True, None, False),
        ("both", True, depth_room, False),
        ("widths fixed, every depth within 1 block", True, 1, True),
        ("widths and every depth fixed", True, 0, True),
    ):
        boxes.append((label, widths, room, every_depth, DUAL_ITERATIONS))
    for label, widths, room, every_depth, dps in boxes:
        box = _restricted(problem, root, point, widths, room, every_depth)
        ends = [{name: np.array([ends[k]]) for name, ends in box.items()} for k in (0, 1)]
        penalty = float(problem.min_penalty(*ends)[0])
        began = time.perf_counter()
        ceiling = relaxation.ceiling(box, start)
        spread = relaxation.spread(box, objective + penalty, ceiling)
        relaxed = relaxation.bound(box, start, objective + penalty, dps, spread=spread)
        bound = relaxed.bound - penalty
        rows.append(
            {
                "box": label,
                "bound": bound,
                "gap": (bound - objective) / objective,
                "seconds": time.perf_counter() - began,
                "relaxed_depths": [
                    float(problem.grids[f"depth{s}"][relaxed.points[-1][f"depth{s}"]])
                    for s in range(1, space.body_stages + 1)
                ],
            }
        )
    refined: list[dict[str, object]] = []
    fixed_depths = _restricted(problem, root, point, False, 0, True)
    for label, box in (("whole space", root), ("every depth fixed", fixed_depths)):
        for seconds in refine_seconds:
            began = time.perf_counter()
            steps = 0
            for step in relaxation.refine(box, start, objective, began + seconds):
                bound, steps, pieces = step.bound, steps + 1, step.open_pieces
                if time.perf_counter() > began + seconds:
                    break
            gap = (bound - objective) / objective
            refined.append(
                {"box": label, "seconds": seconds, "bound": bound, "gap": gap, "steps": steps, "open_pieces": pieces}
            )
    return design, rows, refined


def main() -> None:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    add_budget_options(parser)
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds of the solve that finds the design")
    parser.add_argument(
        "--design",
        type=Path,
        help="bound around the design of this script's earlier report instead of solving (to compare versions)",
    )
    parser.add_argument("--depth-room", type=int, default=2)
    parser.add_argument(
        "--root-dps",
        type=int,
        nargs="*",
        default=[relaxation_module.ITERATIONS, relaxation_module.SLOPED_ITERATIONS],
        help="DPs of the dual for extra rows of the whole space (the solver's root uses SLOPED_ITERATIONS where "
        "the depth buckets have penalty slopes, as at the ResNet budgets, else ITERATIONS)",
    )
    parser.add_argument(
        "--buckets",
        type=int,
        default=relaxation_module.BUCKETS,
        help="the relaxation's most combinations of depth buckets (1: none, the penalty's least over the box only)",
    )
    parser.add_argument(
        "--refine-seconds", type=float, nargs="*", default=[4.0, 15.0], help="time limits of the refinements"
    )
    args = parser.parse_args()
    if (
        args.depth_room < 0
        or args.time_limit <= 0
        or args.buckets < 1
        or min(args.refine_seconds, default=1) <= 0
        or min(args.root_dps, default=1) < 1
    ):
        raise DesignerError(
            "--depth-room must be >= 0, --time-limit and --refine-seconds > 0, --buckets and --root-dps >= 1"
        )
    relaxation_module.BUCKETS = args.buckets
    request = budget_request(args)
    design = None if args.design is None else read_design(args.design)
    found, rows, refined = gap_rows(
        request, args.time_limit, args.depth_room, args.refine_seconds, args.root_dps, design
    )
    for row in rows:
        print(f"{row['box']:<40} bound {row['bound']:>10,.0f}  gap {row['gap']:+.2%}  ({row['seconds']:.1f} s)")
    for row in refined:
        print(
            f"{row['box']} refined for {row['seconds']:g} s ({row['steps']} steps, {row['open_pieces']} pieces open)"
            f"  bound {row['bound']:>10,.0f}  gap {row['gap']:+.2%}"
        )
    report = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "args": {k: str(v) for k, v in vars(args).items()},
        "design": found,
        "rows": rows,
        "refined": refined,
    }
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(run_guarded(main))
