"""Where climbs from the relaxation's designs end, against where they start.

The solver offers the designs that the Lagrangian relaxation's DPs choose, with shallower copies
(they are mostly deeper than the costs allow), and climbs from the best ``RELAX_CLIMBS`` of them
(``designer/core/solver.py``). This script takes each case's root box and the multipliers fitted to
the design where the solver's iterated local search stops with no time limit (seeded by ``--seed``:
the same on every machine), bounds the root as the solver's relaxation does (its first step), ranks
the feasible designs offered by objective, and climbs from the best ``--candidates`` of them to
their ends, with no time limit. It writes each climb's start and end in that order, the best end
among the first ``k`` for a few ``k``, and a plot of each climb's end against its start (``OUTPUT``
with ``.png``; ``--replot`` redraws it from the report). CPU only::

    python benchmarks/relaxed_climbs.py docs/relaxed_climbs.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from dp_seconds import CASES, root_of
from provenance import read_report, report_header

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_bytes, atomic_write_text
from designer.core.solver import SEED_CLIMBS, _Search
from designer.plots import png, subplots

FIRST = (1, 3, 5, 10, 16, 32)
"""How many of the best-ranked designs the report gives the best end of."""


def climbs(case: str, candidates: int, seed: int) -> dict[str, Any]:
    """The root's designs of one case, climbed from the best ``candidates`` of them."""
    problem, box, _, _ = root_of(case)
    search = _Search(problem, None, None, time.perf_counter())
    search.offer(problem.seeds(), climb=SEED_CLIMBS, always=True)
    search.perturb(np.random.default_rng(seed))
    point = {name: int(search.best_point[d]) for d, name in enumerate(problem.dims)}
    point[problem.last] = search.best_last
    relaxation = problem.relaxation
    root = next(relaxation.refine(box, relaxation.start(point), search.best_value))
    chosen = np.array([[design[name] for name in problem.dims] for design in root.points])
    offered = np.concatenate([chosen, problem.shallower(chosen)])
    values, widest = problem.exact(offered)
    order = np.argsort(-values, kind="stable")
    order = order[np.isfinite(values[order])][:candidates]
    _, ends, _ = problem.improve(offered[order], values[order], widest[order])
    starts = values[order]
    return {
        "case": case,
        "start": search.best_value,
        "root_bound": root.bound,
        "offered": len(offered),
        "feasible": int(np.isfinite(values).sum()),
        "starts": starts.tolist(),
        "ends": ends.tolist(),
        "best_of_first": {str(k): float(ends[:k].max()) for k in FIRST if k <= len(ends)},
        "rank_correlation": rank_correlation(starts, ends) if len(ends) > 1 else None,
    }


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's correlation of two samples (ties ranked in order of appearance)."""
    ranks = [np.argsort(np.argsort(x, kind="stable")).astype(float) for x in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


def plot(report: dict[str, Any]) -> bytes:
    """Each case's climbs: where each ends against where it starts, the best-ranked ones marked,
    with the local search's design (the relaxation's start) as a line."""
    rows = report["rows"]
    figure, axes = subplots(1, len(rows), figsize=(6 * len(rows), 4.5), squeeze=False)
    for ax, row in zip(axes[0], rows):
        if len(row["ends"]) < 2:
            ax.set_title(f"{row['case']}: fewer than two designs to climb")
            continue
        starts, ends = np.array(row["starts"]), np.array(row["ends"])
        for first, last, colour, label in (
            (0, 3, "C3", "ranked 1-3"),
            (3, 10, "C1", "ranked 4-10"),
            (10, None, "0.6", "the rest"),
        ):
            ax.scatter(starts[first:last], ends[first:last], s=14, color=colour, label=label, zorder=2)
        ax.axhline(row["start"], color="k", linestyle="--", linewidth=1, label="the local search's design")
        ax.set_xlabel("objective of the design offered")
        ax.set_ylabel("objective where its climb ends")
        ax.set_ylim(min(float(np.quantile(ends, 0.1)), row["start"]) - 0.002 * abs(row["start"]), 1.002 * ends.max())
        ax.set_title(f"{row['case']}: rank correlation {row['rank_correlation']:.2f}")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return png(figure)


def main() -> None:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="JSON report (the plot beside it, .png)")
    parser.add_argument("--case", action="append", help=f"family:FLOPs:params, repeatable (default {', '.join(CASES)})")
    parser.add_argument("--candidates", type=int, default=64, help="the best-ranked designs climbed from")
    parser.add_argument("--seed", type=int, default=0, help="of the iterated local search")
    parser.add_argument("--replot", action="store_true", help="redraw OUTPUT's plot without climbing")
    args = parser.parse_args()
    if args.replot:
        atomic_write_bytes(
            args.output.with_suffix(".png"), plot(read_report(args.output, "relaxed_climbs.py", {"rows"}))
        )
        print(f"wrote {args.output.with_suffix('.png')}")
        return
    if args.candidates < 1:
        raise DesignerError("--candidates must be at least 1")
    rows = []
    for case in args.case or CASES:
        row = climbs(case, args.candidates, args.seed)
        best = ", ".join(f"{k}: {v:,.0f}" for k, v in row["best_of_first"].items()) or "none is feasible"
        print(f"{case}: from {row['start']:,.0f}, the best end of the first {best}", flush=True)
        rows.append(row)
    report = {**report_header(), "candidates": args.candidates, "seed": args.seed, "rows": rows}
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    atomic_write_bytes(args.output.with_suffix(".png"), plot(report))


if __name__ == "__main__":
    sys.exit(run_guarded(main))
