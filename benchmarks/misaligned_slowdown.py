"""How much slower misaligned convs run than a profile's aligned model says, per kernel and stride.

    python benchmarks/misaligned_slowdown.py docs/h100/misaligned-slowdown.json \\
        profiles/h100-torch-fp32-b256.json profiles/h100-torch-fp16-b256.json

Fits the predictor of each profile (on the CPU, seconds each) and writes its slowdown factors
(``latency.predict.predictor.Predictor.slowdown``): the median of measured / predicted latency
over the profile's alignment probes (convs whose channel counts are odd multiples of 8), per
(kernel, stride) and over all of them (``kernel`` and ``stride`` null).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.fileio import atomic_write_text
from latency.predict.predictor import Predictor
from latency.predict.profiles import resolve_profile
from latency.predict.table import LatencyTable


def slowdown_rows(predictor: Predictor) -> list[dict[str, Any]]:
    """The predictor's slowdown factors, per (kernel, stride) in order, the overall one last."""
    shapes = sorted(shape for shape in predictor.slowdown if shape is not None)
    rows: list[dict[str, Any]] = [
        {"kernel": kernel, "stride": stride, "factor": predictor.slowdown[(kernel, stride)]}
        for kernel, stride in shapes
    ]
    if None in predictor.slowdown:
        rows.append({"kernel": None, "stride": None, "factor": predictor.slowdown[None]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("profiles", nargs="+", help="profile names or paths")
    args = parser.parse_args(argv)
    report = {}
    for name in args.profiles:
        table = LatencyTable.load(resolve_profile(name))
        rows = slowdown_rows(Predictor(table))
        report[table.name] = {"device": table.provenance.get("device_name"), "precision": table.precision, "rows": rows}
        print(f"{table.name}: " + ", ".join(f"k{r['kernel']} s{r['stride']} {r['factor']:.3f}" for r in rows))
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
