"""How far two builds of one device's profile agree, op by op and on measured networks.

Compares a second build (``--candidate``, e.g. a from-scratch rebuild with another timing policy)
with a reference table (``--reference``, e.g. the shipped one) on the ops both hold, and
re-predicts ``designer profile validate`` runs (``--runs``: their networks were measured once)
with each, so a rebuild can be judged by the networks it prices rather than by its own entries.
CPU only, from committed files::

    python benchmarks/profile_agreement.py docs/h200/scratch-build-fp16.json \\
        --reference profiles/h200-torch-fp16-b256.json --candidate docs/h200/runs/scratch-fp16.json.gz \\
        --runs docs/h200/runs/validate-fp16-seed0.json docs/h200/runs/validate-fp16-seed3.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from latency.measure.profiler import SAME_RUN
from latency.measure.validate import repredict, summary
from latency.predict.predictor import Predictor
from latency.predict.table import LatencyTable


def entry_agreement(reference: LatencyTable, candidate: LatencyTable) -> dict[str, Any]:
    """Relative differences ``candidate / reference - 1`` over the ops both tables hold."""
    common = sorted(set(reference.entries) & set(candidate.entries))
    if not common:
        raise DesignerError("the two profiles share no op; compare builds of the same device and grid")
    diff = np.array([candidate.entries[op] / reference.entries[op] - 1 for op in common])
    size = np.abs(diff)
    return {
        "common_ops": len(common),
        "median_abs": float(np.median(size)),
        "p90_abs": float(np.quantile(size, 0.9)),
        "p99_abs": float(np.quantile(size, 0.99)),
        "mean_signed": float(diff.mean()),
        "reference_only": len(set(reference.entries) - set(candidate.entries)),
        "candidate_only": len(set(candidate.entries) - set(reference.entries)),
    }


def table_summary(table: LatencyTable, path: Path) -> dict[str, Any]:
    keep = ("date", "device_name", "driver", "cuda", "cudnn", "method", "warmup", "repetitions", "grid")
    return {"path": str(path), "ops": len(table.entries), **{k: table.provenance.get(k) for k in keep}}


def compare(reference: Path, candidate: Path, runs: list[Path]) -> dict[str, Any]:
    tables = {"reference": LatencyTable.load(reference), "candidate": LatencyTable.load(candidate)}
    differ = [name for name in SAME_RUN if getattr(tables["reference"], name) != getattr(tables["candidate"], name)]
    if differ:
        raise DesignerError(
            f"{reference} and {candidate} differ in {', '.join(differ)}; compare two builds of the same profile"
        )
    predictors = {name: Predictor(table) for name, table in tables.items()}
    validations = []
    for run in runs:
        row: dict[str, Any] = {"run": str(run)}
        for name, predictor in predictors.items():
            row[name] = summary(repredict(predictor, run)[1])
        validations.append(row)
    return {
        "reference": table_summary(tables["reference"], reference),
        "candidate": table_summary(tables["candidate"], candidate),
        "entries": entry_agreement(tables["reference"], tables["candidate"]),
        "validations": validations,
    }


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--reference", type=Path, required=True, help="the profile to compare against")
    parser.add_argument("--candidate", type=Path, required=True, help="the other build of the same device")
    parser.add_argument("--runs", type=Path, nargs="*", default=[], help="`designer profile validate` reports")
    args = parser.parse_args(argv)
    result = compare(args.reference, args.candidate, args.runs)
    atomic_write_text(args.output, json.dumps(result, indent=1) + "\n")
    entries = result["entries"]
    print(
        f"{entries['common_ops']:,} common ops: median |diff| {entries['median_abs']:.2%}, p90 {entries['p90_abs']:.2%},"
        f" mean signed {entries['mean_signed']:+.2%}"
    )
    for row in result["validations"]:
        figures = (
            f"{name} median {row[name]['median_abs_error']:.2%} worst {row[name]['max_abs_error']:.2%}"
            for name in ("reference", "candidate")
        )
        print(f"{row['run']}: " + "; ".join(figures))
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
