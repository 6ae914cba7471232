"""Predicted against measured throughput of whole networks on this machine's GPU, with a profile.

Each network (a reference name such as ``deepmad_r50`` or an arch JSON) is predicted by the
profile and measured end to end with the profile's backend, as ``designer solve --verify``
measures (batch-norm folded, the profile's batch and precision). Writes JSON to ``--out``::

    python benchmarks/measure_designs.py --profile h200-torch-fp16-b256 --out measured.json \\
        resnet50 deepmad_r18 deepmad_r34 deepmad_r50 docs/deepmad/ours-r50-std.json

``--measured FILE`` re-predicts the networks of such a file with ``--profile`` instead, their
measured throughput kept (no device needed: how a changed table prices the same measurements)::

    python benchmarks/measure_designs.py --profile h200-torch-fp16-b256 --out OUT.json \\
        --measured docs/h200/measured-fp16.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.analysis import analyze_spec
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.parse import read_json
from designer.workflows.analyze import load_target
from designer.workflows.verify import ProfileMeasurer


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archs", nargs="*", metavar="ARCH", help="reference names or arch JSON files")
    parser.add_argument("--profile", required=True, help="profile name or path (of this machine's GPU)")
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    parser.add_argument("--measured", type=Path, metavar="FILE", help="re-predict the networks of an earlier --out")
    args = parser.parse_args(argv)
    if args.measured is not None:
        return repredict(args.measured, args.profile, args.out)
    if not args.archs:
        raise DesignerError("give the networks to measure (reference names or arch JSON files), or --measured FILE")
    specs = [load_target(arch) for arch in args.archs]
    if any(spec is None for spec in specs):
        raise DesignerError("give reference names or arch JSON files, not module factories")
    measurer = ProfileMeasurer(args.profile)
    predictor = measurer.predictor()
    measured_on = measurer.provenance()  # "provenance" is the profile's
    rows = []
    for arch, spec in zip(args.archs, specs):
        assert spec is not None
        predicted, measured = predictor.throughput(spec), measurer.throughput(spec)
        analysis = analyze_spec(spec)
        rows.append(
            {
                "arch": arch,
                "params": analysis.params,
                "flops": analysis.flops,
                "predicted": predicted,
                "measured": measured,
                "error": predicted / measured - 1.0,
            }
        )
        print(f"{arch:40} predicted {predicted:10,.0f}  measured {measured:10,.0f}  error {rows[-1]['error']:+.2%}")
        atomic_write_text(args.out, json.dumps({"profile": predictor.name, "device": measurer.backend.device_name(),
                                                "measured_on": measured_on, "provenance": predictor.table.provenance,
                                                "rows": rows}, indent=2) + "\n")  # fmt: skip
    return 0


def repredict(measured_path: Path, profile: str, out: Path) -> int:
    """Each row of an earlier results file predicted again by ``profile``, its measurement kept."""
    from latency.predict.cache import load_predictor

    earlier = read_json(measured_path, "measure_designs results")
    rows = earlier.get("rows") if isinstance(earlier, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and {"arch", "measured"} <= r.keys() for r in rows):
        raise DesignerError(f"{measured_path} is not a measure_designs.py results file; give one its --out wrote")
    predictor = load_predictor(profile)
    for row in rows:
        spec = load_target(row["arch"])
        if spec is None:
            raise DesignerError(f"{measured_path}: {row['arch']} is not a reference name or arch JSON file")
        row["predicted"] = predictor.throughput(spec)
        row["error"] = row["predicted"] / row["measured"] - 1.0
        print(
            f"{row['arch']:40} predicted {row['predicted']:10,.0f}  measured {row['measured']:10,.0f}  error {row['error']:+.2%}"
        )
    results = {**earlier, "profile": predictor.name, "measured_in": str(measured_path), "rows": rows}
    atomic_write_text(out, json.dumps({**results, "provenance": predictor.table.provenance}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
