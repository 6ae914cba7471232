"""How the solver's gap closes over a long time limit: the incumbent and the bound after every batch.

A 10-s solve of the whole space at the ResNet-50 budget ends about one percent from a proof. This
solves one budget once with a long ``--time-limit`` (in this process, on the CPU) and records what
``solve``'s progress callback reports after every batch of boxes: the seconds since the start, the
best design's objective, the bound (the lower of the open boxes' and the relaxation's) and the open
boxes. It writes them as JSON and as a plot of the gap against time (``OUTPUT`` with ``.png``),
with other runs' reports drawn beside it (``--beside``; ``--replot`` redraws without solving)::

    python benchmarks/gap_over_time.py docs/gap_over_time.json --time-limit 600
    python benchmarks/gap_over_time.py docs/gap_over_time.json --replot --beside docs/gap_over_time-a3f0d96.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from provenance import read_report, report_header

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_bytes, atomic_write_text
from designer.core.request import DesignRequest
from designer.core.solver import SolveStats, solve
from designer.core.space import SearchSpace
from designer.core.units import parse_count
from designer.plots import png, subplots
from designer.workflows.design import budget_constraints

NEEDED = {"trace", "version", "gap", "args"}
"""The keys of a report that its plot reads."""


def trace(request: DesignRequest, time_limit: float, seed: int) -> dict[str, Any]:
    """One solve's progress, batch by batch, and its end."""
    rows: list[dict[str, float]] = []
    start = time.perf_counter()
    printed = start

    def record(stats: SolveStats, best: float, bound: float, open_boxes: int) -> None:
        nonlocal printed
        now = time.perf_counter()
        rows.append({"seconds": now - start, "best": best, "bound": bound, "open_boxes": open_boxes})
        if now - printed >= 10:
            printed = now
            print(f"{now - start:6.0f} s  best {best:,.1f}  bound {bound:,.1f}  gap {(bound - best) / best:.3%}")

    solution = solve(
        SearchSpace(request), budget_constraints(request), request.rho0, time_limit, progress=record, seed=seed
    )
    return {
        "trace": rows,
        "objective": solution.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "proven": solution.proven,
        "seconds": solution.seconds,
        "point": solution.point,
    }


def plot(report: dict[str, Any], beside: list[dict[str, Any]]) -> bytes:
    """The gap (bound less incumbent, over the incumbent) against time, log-scaled; each report of
    ``beside`` (another version's run, say) drawn with it, labelled by its version."""
    figure, axes = subplots(figsize=(7, 4))
    for each in [report, *beside]:
        rows = [row for row in each["trace"] if row["best"] > 0]
        gaps = [100 * (r["bound"] - r["best"]) / r["best"] for r in rows]
        axes.plot([r["seconds"] for r in rows], gaps, label=f"{each['version']}: {100 * each['gap']:.2f} % at the end")
    axes.set_xlabel("seconds since the solve began")
    axes.set_ylabel("gap, % of the best design's objective")
    axes.set_yscale("log")
    args = report["args"]
    axes.set_title(f"{args['family']} {args['flops']} FLOPs {args['params']} params, {args['depth_penalty']} penalty")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return png(figure)


def main() -> None:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="JSON report (the plot beside it, .png)")
    parser.add_argument("--family", default="bottleneck")
    parser.add_argument("--flops", default="4.13G")
    parser.add_argument("--params", default="25.55M")
    parser.add_argument("--depth-penalty", choices=("std", "var"), default="std")
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beside", type=Path, action="append", default=[], help="a report to draw beside it")
    parser.add_argument("--replot", action="store_true", help="redraw OUTPUT's plot (with --beside) without solving")
    args = parser.parse_args()
    beside = [read_report(path, "gap_over_time.py", NEEDED) for path in args.beside]
    if args.replot:
        atomic_write_bytes(
            args.output.with_suffix(".png"), plot(read_report(args.output, "gap_over_time.py", NEEDED), beside)
        )
        print(f"wrote {args.output.with_suffix('.png')}")
        return
    if args.time_limit <= 0:
        raise DesignerError("--time-limit must be positive")
    request = DesignRequest(
        family=args.family,
        flops=parse_count(args.flops),
        params=parse_count(args.params),
        depth_penalty=args.depth_penalty,
    )
    report = {
        **report_header(),
        "args": {key: str(value) for key, value in vars(args).items()},
        **trace(request, args.time_limit, args.seed),
    }
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    atomic_write_bytes(args.output.with_suffix(".png"), plot(report, beside))
    print(f"gap {report['gap']:.3%} after {report['seconds']:.0f} s ({'proven' if report['proven'] else 'not proven'})")


if __name__ == "__main__":
    sys.exit(run_guarded(main))
