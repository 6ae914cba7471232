"""Predictor accuracy on the published V100 TensorRT tables, against the publishers' method.

    python benchmarks/latency_predictor.py [--shared ../shared/data/tinynas-v100] [--json out.json]

For each table (FP32, FP16) and batch it holds out the same random 10 % of the measured
entries as ``designer profile check --holdout 0.1 --seed 0`` and predicts them from the rest,
with this project's predictor and with the publishers' method: scipy's LinearND interpolation
over (Out_C, In_H), nearest neighbour where that gives nothing, per (kind, kernel, stride,
fused add, batch, channel ratio ``int(In_C / Out_C * 100) / 100``; 0 for 3-channel inputs).
It also holds out whole grid values (every other output width, every other resolution, the
smallest and largest kept) to show how the predictor does *between* measured values, which is what the
solver asks of it. Prints median |error|, p90 and the share within +-10 %, and how self-consistent
each table is: the share of entries that run more than 10 % slower than a grid neighbour doing
more work (one step up in resolution, input or output channels, all else equal) or 10 % faster
than one doing less, which no predictor monotone in work can match.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from latency.predict.check import ErrorSummary, split
from latency.predict.ops import OpKey
from latency.predict.predictor import Predictor, predict_keys
from latency.predict.table import LatencyTable
from latency.predict.tinynas import read_tinynas

TABLES = (("conv_data.out", "fp32"), ("conv_data.out.fp16", "fp16"))


def published_method(table: LatencyTable, fitted: list[OpKey], held: list[OpKey]) -> np.ndarray:
    def group(key: OpKey) -> tuple[str, int, int, float]:
        ratio = 0.0 if key.cin == 3 else int(key.cin / key.cout * 100) / 100
        return (key.kind, key.kernel, key.stride, -1.0 if key.kind == "dwconv_act" else ratio)

    points: dict[tuple[str, int, int, float], list[OpKey]] = defaultdict(list)
    for key in fitted:
        points[group(key)].append(key)
    predicted = np.full(len(held), np.nan)
    cache: dict[tuple[str, int, int, float], tuple[LinearNDInterpolator | None, NearestNDInterpolator]] = {}
    for index, key in enumerate(held):
        name = group(key)
        if name not in points:
            continue
        if name not in cache:
            xy = np.array([(k.cout, k.res) for k in points[name]], dtype=float)
            values = np.array([table.entries[k] for k in points[name]])
            try:
                linear: LinearNDInterpolator | None = LinearNDInterpolator(xy, values)
            except Exception:  # qhull refuses degenerate (collinear) point sets
                linear = None
            cache[name] = (linear, NearestNDInterpolator(xy, values, rescale=True))
        linear, nearest = cache[name]
        value = float(linear(key.cout, key.res)) if linear is not None else np.nan
        predicted[index] = value if np.isfinite(value) and value > 0 else float(nearest(key.cout, key.res))
    return predicted


def leave_values_out(table: LatencyTable, field: str) -> ErrorSummary:
    """Hold out every other value of ``field`` (not the ends) and predict it from its neighbours."""
    values = sorted({getattr(k, field) for k in table.entries if k.cin >= 8})[1:-1:2]
    held = [k for k in table.entries if getattr(k, field) in values and k.cin >= 8]
    excluded = set(held)
    predictor = Predictor(table.subset(k for k in table.entries if k not in excluded))
    return ErrorSummary.of(predict_keys(predictor, held), [table.entries[k] for k in held])


def inconsistent_share(table: LatencyTable) -> float:
    """Share of entries more than 10 % off monotone in work against a neighbour one grid step away."""
    entries = table.entries
    values = {field: sorted({getattr(k, field) for k in entries}) for field in ("res", "cin", "cout")}
    bad: set[OpKey] = set()
    for key, latency in entries.items():
        for field, axis in values.items():
            index = axis.index(getattr(key, field))
            if index + 1 == len(axis):
                continue
            bigger = replace(key, **{field: axis[index + 1]})
            if bigger in entries and latency > 1.1 * entries[bigger]:
                bad |= {key, bigger}
    return len(bad) / len(entries)


def row(label: str, summary: ErrorSummary) -> str:
    return (
        f"{label:<44} {summary.count:6d} {summary.median_abs_error * 100:7.2f}% "
        f"{summary.p90_abs_error * 100:7.2f}% {summary.within_10pct * 100:7.1f}%"
    )


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinynas-v100"
    parser.add_argument("--shared", type=Path, default=default, help="folder of the TinyNAS V100 tables")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    print(f"{'':<44} {'count':>6} {'median':>8} {'p90':>8} {'in 10%':>8}")
    for file, precision in TABLES:
        for table in read_tinynas(args.shared / file, "v100", precision):
            fitted, held = split(list(table.entries), 0.1, 0)
            measured = [table.entries[k] for k in held]
            start = time.perf_counter()
            ours = ErrorSummary.of(predict_keys(Predictor(table.subset(fitted)), held), measured)
            seconds = time.perf_counter() - start
            theirs = ErrorSummary.of(published_method(table, fitted, held), measured)
            name = table.name
            print(row(f"{name} hold-out 10%: this predictor ({seconds:.1f} s)", ours))
            print(row(f"{name} hold-out 10%: published method", theirs))
            widths = leave_values_out(table, "cout")
            resolutions = leave_values_out(table, "res")
            print(row(f"{name} whole output widths held out", widths))
            print(row(f"{name} whole resolutions held out", resolutions))
            consistency = inconsistent_share(table)
            print(f"{name} entries breaking monotonicity in work by > 10 %: {consistency * 100:.1f} %")
            for label, summary in (("ours", ours), ("published", theirs), ("widths", widths), ("res", resolutions)):
                results[f"{name}/{label}"] = summary.to_dict()
            results[f"{name}/inconsistent_share"] = {"share": consistency}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(run_guarded(main))
