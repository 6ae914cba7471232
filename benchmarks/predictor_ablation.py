"""What two of the predictor's choices do on the published V100 TensorRT tables.

    python benchmarks/predictor_ablation.py [--shared ../shared/data/tinynas-v100] [--json out.json]

* Tile snapping (``latency.predict.predictor.SNAP_TILE``, applied on tensor cores only): every table
  with whole output widths held out (as in ``benchmarks/latency_predictor.py``), predicted
  with snapping on and off. The imported tables hold no misaligned widths, so switching
  ``snap_tile`` on a fitted predictor changes nothing else.
* The completion's parameters (``latency.predict.completion.MAX_SHIFT`` and ``CATEGORY_DISTANCE``):
  ``designer profile check --holdout 0.1 --seed 0`` on every table for a few values of each.

Prints the share within +-10 % (and the median |error|) per table and setting.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from latency.predict import completion
from latency.predict.check import ErrorSummary, holdout_check
from latency.predict.predictor import SNAP_TILE, Predictor, predict_keys
from latency.predict.table import LatencyTable
from latency.predict.tinynas import read_tinynas

TABLES = (("conv_data.out", "fp32"), ("conv_data.out.fp16", "fp16"))
COMPLETION_SETTINGS = ((2, 0.3), (1, 0.3), (3, 0.3), (2, 0.15), (2, 0.6))
"""``(MAX_SHIFT, CATEGORY_DISTANCE)`` pairs; the first is the shipped one."""


def widths_held_out(table: LatencyTable, snap_tile: int) -> ErrorSummary:
    """Every other output width held out (ends kept), predicted with ``snap_tile``."""
    values = sorted({k.cout for k in table.entries if k.cin >= 8})[1:-1:2]
    held = [k for k in table.entries if k.cout in values and k.cin >= 8]
    excluded = set(held)
    predictor = Predictor(table.subset(k for k in table.entries if k not in excluded))
    predictor.snap_tile = snap_tile
    return ErrorSummary.of(predict_keys(predictor, held), [table.entries[k] for k in held])


def label(summary: ErrorSummary) -> str:
    return f"{summary.within_10pct * 100:5.1f}% ({summary.median_abs_error * 100:.2f}%)"


def main() -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinynas-v100"
    parser.add_argument("--shared", type=Path, default=default, help="folder of the TinyNAS V100 tables")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    tables = [table for file, precision in TABLES for table in read_tinynas(args.shared / file, "v100", precision)]
    results: dict[str, dict[str, float]] = {}
    print("whole widths held out: within 10 % (median), snapping on / off")
    for table in tables:
        on, off = widths_held_out(table, SNAP_TILE), widths_held_out(table, 0)
        print(f"  {table.name:<22} {label(on)}   {label(off)}", flush=True)
        results[f"{table.name}/widths/snap"], results[f"{table.name}/widths/no-snap"] = on.to_dict(), off.to_dict()
    shipped = (completion.MAX_SHIFT, completion.CATEGORY_DISTANCE)
    print("profile check --holdout 0.1 --seed 0: within 10 % (median) per (MAX_SHIFT, CATEGORY_DISTANCE)")
    try:
        for shift, distance in COMPLETION_SETTINGS:
            completion.MAX_SHIFT, completion.CATEGORY_DISTANCE = shift, distance
            summaries = [holdout_check(table) for table in tables]
            print(f"  ({shift}, {distance}): " + "  ".join(label(s) for s in summaries), flush=True)
            for table, summary in zip(tables, summaries):
                results[f"{table.name}/completion/{shift}-{distance}"] = summary.to_dict()
    finally:
        completion.MAX_SHIFT, completion.CATEGORY_DISTANCE = shipped
    print("  tables: " + ", ".join(table.name for table in tables))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
