"""How well a profile prices the ops of a ``benchmarks/channel_steps.py`` sweep, per kernel.

Predicts every op of the sweep from the profile (on the CPU) and prints the median, p90 and
worst ``|predicted / measured - 1|`` for each kernel: how far a table without an op's width
interpolates from what the GPU measured. The table as it was before the dense 5x5 lines::

    git show 8ed75ff:profiles/h200-torch-fp16-b256.json > OUT/before.json
    python benchmarks/steps_error.py docs/h200/steps-fp16-k35.json --profile OUT/before.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.parse import read_json
from latency.predict.cache import load_predictor
from latency.predict.ops import OpKey
from latency.predict.predictor import predict_keys


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("steps", type=Path, help="a channel_steps.py results file")
    parser.add_argument("--profile", required=True, help="profile name or path")
    args = parser.parse_args(argv)
    data = read_json(args.steps, "channel_steps.py results")
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise DesignerError(f"{args.steps} is not a channel_steps.py results file; give one it wrote")
    predictor = load_predictor(args.profile)
    for kernel in sorted({row["kernel"] for row in rows}):
        chosen = [row for row in rows if row["kernel"] == kernel]
        keys = [OpKey(r["kind"], r["cin"], r["res"], r["cout"], r["kernel"], r.get("stride", 1)) for r in chosen]
        errors = np.abs(predict_keys(predictor, keys) / np.array([r["ms"] for r in chosen]) - 1)
        print(
            f"{kernel}x{kernel}: {len(chosen)} ops, median {np.median(errors):.1%}, "
            f"p90 {np.quantile(errors, 0.9):.1%}, worst {errors.max():.1%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
