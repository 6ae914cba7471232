"""Predicted against measured throughput of whole networks on this machine's GPU, with a profile.

Each network (a reference name such as ``deepmad_r50`` or an arch JSON) is predicted by the
profile and measured end to end with the profile's backend, as ``designer solve --verify``
measures (batch-norm folded, the profile's batch and precision). Writes JSON to ``--out``::

    python benchmarks/measure_designs.py --profile h200-torch-fp16-b256 --out measured.json \\
        resnet50 deepmad_r18 deepmad_r34 deepmad_r50 docs/deepmad/ours-r50-std.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from designer.core.analysis import analyze_spec
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.workflows.analyze import load_target
from designer.workflows.verify import ProfileMeasurer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archs", nargs="+", metavar="ARCH", help="reference names or arch JSON files")
    parser.add_argument("--profile", required=True, help="profile name or path (of this machine's GPU)")
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    args = parser.parse_args(argv)
    specs = [load_target(arch) for arch in args.archs]
    if any(spec is None for spec in specs):
        raise DesignerError("give reference names or arch JSON files, not module factories")
    measurer = ProfileMeasurer(args.profile)
    predictor = measurer.predictor()
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
                                                "provenance": predictor.table.provenance, "rows": rows}, indent=2) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DesignerError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
