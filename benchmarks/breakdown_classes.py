"""Where the ops of ``benchmarks/layer_breakdown.py`` networks run slower than predicted, by class.

Sums the measured and predicted latency (each op times its count) of every network of a breakdown
report over classes of ops: kind and kernel, whether the profile measured the op itself (``grid``)
or priced it from its neighbours (``off``), and which of its channel counts are misaligned (odd
multiples of 8 above 64: ``in``, ``out``, ``both``; ``aligned``). Prints the classes by how much
latency they add beyond the prediction, largest first (CPU only, from committed files)::

    python benchmarks/breakdown_classes.py docs/h200/breakdown-fp16-mbv2-open.json \\
        --profile profiles/h200-torch-fp16-b256.json
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.parse import read_json
from latency.predict.ops import OpKey
from latency.predict.predictor import misaligned
from latency.predict.profiles import resolve_profile
from latency.predict.table import LatencyTable


def op_class(key: OpKey, measured: set[OpKey]) -> tuple[str, str, str]:
    """(kind and kernel, ``grid`` or ``off``, misaligned side) of one op."""
    low, high = bool(misaligned(key.cin)), bool(misaligned(key.cout))
    side = "both" if low and high else "in" if low else "out" if high else "aligned"
    return f"{key.kind} k{key.kernel}", "grid" if key in measured else "off", side


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a layer_breakdown.py report")
    parser.add_argument("--profile", required=True, help="the profile it was predicted from (name or path)")
    args = parser.parse_args(argv)
    data = read_json(args.report, "layer_breakdown.py report")
    networks = data.get("networks") if isinstance(data, dict) else None
    if not isinstance(networks, list) or not networks:
        raise DesignerError(f"{args.report} is not a layer_breakdown.py report; give one it wrote")
    measured = set(LatencyTable.load(resolve_profile(args.profile)).entries)
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for network in networks:
        for row in network["ops"]:
            entry = sums[op_class(OpKey.from_label(row["op"]), measured)]
            entry[0] += row["count"] * row["measured_ms"]
            entry[1] += row["count"] * row["predicted_ms"]
            entry[2] += 1
    total_measured, total_predicted = (sum(entry[k] for entry in sums.values()) for k in (0, 1))
    print(
        f"{len(networks)} networks, ops timed alone: measured {total_measured:.2f} ms, predicted "
        f"{total_predicted:.2f} ms (measured / predicted {total_measured / total_predicted:.3f})"
    )
    for (kind, where, side), (ms, predicted, ops) in sorted(sums.items(), key=lambda item: item[1][1] - item[1][0]):
        print(
            f"  {kind:16s} {where:4s} {side:7s} {int(ops):3d} ops  measured {ms:7.2f} ms  predicted {predicted:7.2f} ms  "
            f"measured / predicted {ms / predicted:.3f}  beyond the prediction {ms - predicted:+.3f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
