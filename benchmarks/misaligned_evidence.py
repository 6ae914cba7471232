"""Where a shipped H200 table's misaligned-width factors come from, and how it prices each family.

For each precision: measured / aligned-model latency (the predictor without its slowdown factors
and measured misaligned entries) of the table's misaligned probes, and of the misaligned convs of
the committed layer breakdowns timed alone, per kernel and tile position (a misaligned width just
past a multiple of 64, or further in); and the mean signed error of the table's predictions of the
committed validation runs, per network family. CPU only, from committed files::

    python benchmarks/misaligned_evidence.py docs/h200/misaligned-evidence.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.fileio import atomic_write_text
from designer.core.spec import ArchSpec
from latency.predict.ops import OpKey
from latency.predict.predictor import Predictor, misaligned, predict_keys
from latency.predict.profiles import resolve_profile
from latency.predict.table import LatencyTable

DOCS = Path("docs/h200")
TILE = 64


def _position(key: OpKey) -> str:
    widths = [c for c in (key.cin, key.cout) if misaligned(c)]
    return "past a tile" if any(c % TILE == 8 for c in widths) else "further in"


def _ratios(aligned: Predictor, measured: dict[OpKey, float]) -> list[dict[str, Any]]:
    """Median measured / aligned-model latency of misaligned convs, per kernel and tile position."""
    keys = [
        k for k in measured if k.kind.startswith("conv") and k.cin >= 8 and (misaligned(k.cin) or misaligned(k.cout))
    ]
    ratios = np.array([measured[k] for k in keys]) / predict_keys(aligned, keys)
    groups: dict[tuple[int, str], list[float]] = defaultdict(list)
    for key, ratio in zip(keys, ratios):
        groups[(key.kernel, _position(key))].append(float(ratio))
    return [
        {"kernel": kernel, "position": position, "count": len(values), "median": float(np.median(values))}
        for (kernel, position), values in sorted(groups.items())
    ]


def precision_rows(precision: str) -> dict[str, Any]:
    table = LatencyTable.load(resolve_profile(f"h200-torch-{precision}-b256"))
    predictor, aligned = Predictor(table), Predictor(table)
    aligned.slowdown, aligned.exact = {}, {}
    timed_alone: dict[OpKey, float] = {}
    for path in sorted(DOCS.glob("breakdown*.json")):
        if ("fp32" in path.name) == (precision == "fp32"):
            for network in json.loads(path.read_text())["networks"]:
                if network["network"].startswith("random-"):
                    timed_alone.update({OpKey.from_label(op["op"]): op["measured_ms"] for op in network["ops"]})
    timed_alone = {k: ms for k, ms in timed_alone.items() if k not in table.entries}
    errors: dict[str, list[float]] = defaultdict(list)
    for path in sorted((DOCS / "runs").glob(f"validate-{precision}-seed*.json")):
        run = json.loads(path.read_text())
        for row, spec in zip(run["networks"], run["specs"]):
            family = row["name"].split("-")[1] if row["name"].startswith("random-") else row["name"]
            errors[family].append(predictor.network_latency(ArchSpec.from_dict(spec)) / row["measured_ms"] - 1)
    return {
        "profile": table.name,
        "probes": _ratios(aligned, table.entries),
        "timed_alone": _ratios(aligned, timed_alone),
        "families": {family: {"networks": len(e), "mean_signed": float(np.mean(e))} for family, e in errors.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    report = {precision: precision_rows(precision) for precision in ("fp16", "fp32")}
    for precision, rows in report.items():
        for name in ("probes", "timed_alone"):
            print(
                precision,
                name,
                ", ".join(f"k{r['kernel']} {r['position']} {r['median']:.3f} ({r['count']})" for r in rows[name]),
            )
        print(precision, "families", ", ".join(f"{f} {v['mean_signed']:+.2%}" for f, v in rows["families"].items()))
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
