"""Op latency against channel count at fine steps: where GPU tile sizes put steps in latency.

The shipped profiles measure widths on a coarse grid (``latency.measure.grid.CHANNELS``); designs land
between its points on multiples of 8. This sweep times the ResNet basic block's convs
(``conv_act`` and ``conv_add_act``, 3x3, ``cin == cout``) and the 1x1 convs of bottleneck and
inverted-residual blocks at every multiple of 8 in a range, with the profile's backend and
method, to show how latency between two grid points behaves (linear, or a step at a tile)::

    python benchmarks/channel_steps.py out.json --precision fp16 --low 448 --high 648

Runs on the GPU on demand (not in tests); writes one JSON file with the provenance and rows
``{kind, kernel, res, cin, cout, ms}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from latency.measure.backend import Settings, get_backend
from latency.predict.ops import OpKey

SWEEPS = (  # (kind, kernel, input resolutions)
    ("conv_act", 3, (28, 14, 7)),
    ("conv_add_act", 3, (14, 7)),
    ("conv_act", 1, (14, 7)),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--precision", default="fp16")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--low", type=int, default=448)
    parser.add_argument("--high", type=int, default=648)
    parser.add_argument("--step", type=int, default=8)
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for the onnxruntime backend")
    args = parser.parse_args(argv)
    backend = get_backend(args.backend, Settings(precision=args.precision, device=args.device))
    rows = []
    for kind, kernel, resolutions in SWEEPS:
        for res in resolutions:
            for channels in range(args.low, args.high + 1, args.step):
                ms = backend.time_op(OpKey(kind, channels, res, channels, kernel, 1), args.batch)
                rows.append({"kind": kind, "kernel": kernel, "res": res, "cin": channels, "cout": channels, "ms": ms})
            print(f"{kind} k{kernel} res {res}: done", file=sys.stderr, flush=True)
    report = {"provenance": backend.provenance(), "batch": args.batch, "precision": args.precision, "rows": rows}
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DesignerError as error:
        sys.exit(f"error: {error}")
