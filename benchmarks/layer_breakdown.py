"""Where a network's predicted latency goes wrong: every op timed alone vs the profile's prediction.

For each network (a ``designer profile validate`` report's nets by name, or arch spec JSONs), time
each distinct op of it with the profile's backend, predict it from the profile, and write the
rows ``{network, op, count, measured_ms, predicted_ms}`` plus the end-to-end latency::

    python benchmarks/layer_breakdown.py out.json --profile h100-torch-fp16 \\
        --report fp16/validate.json --names random-basic-06 random-basic-21

Runs on the profile's GPU on demand (not in tests).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.spec import ArchSpec
from designer.core.structure import arch_layers
from designer.workflows.verify import ProfileMeasurer
from latency.predict.ops import OpKey, layer_ops
from latency.predict.predictor import Predictor, predict_keys


def network_ops(spec: ArchSpec) -> Counter[OpKey]:
    """Each distinct op of the network and how many times it runs."""
    return Counter(op for layer in arch_layers(spec) for op in layer_ops(layer))


def load_networks(report: Path | None, names: list[str], specs: list[Path]) -> dict[str, ArchSpec]:
    networks = {path.stem: ArchSpec.from_dict(json.loads(path.read_text())) for path in specs}
    if report is not None:
        data = json.loads(report.read_text())
        by_name = {row["name"]: spec for row, spec in zip(data["networks"], data["specs"])}
        for name in names:
            if name not in by_name:
                raise DesignerError(f"{report} has no network {name!r}; it has: {', '.join(by_name)}")
            networks[name] = ArchSpec.from_dict(by_name[name])
    return networks


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--report", type=Path, help="a `designer profile validate` report")
    parser.add_argument("--names", nargs="*", default=[], help="networks of --report to break down")
    parser.add_argument("--specs", nargs="*", type=Path, default=[], help="arch spec JSON files")
    args = parser.parse_args(argv)
    measurer = ProfileMeasurer(args.profile)
    predictor, backend = Predictor(measurer.table), measurer.backend
    results = []
    for name, spec in load_networks(args.report, args.names, args.specs).items():
        ops = network_ops(spec)
        keys = sorted(ops)
        predicted = predict_keys(predictor, keys)
        rows = [
            {
                "op": key.label(),
                "count": ops[key],
                "measured_ms": backend.time_op(key, predictor.batch),
                "predicted_ms": p,
            }
            for key, p in zip(keys, predicted)
        ]
        end_to_end = backend.time_network(spec, predictor.batch)
        results.append({"network": name, "measured_ms": end_to_end, "arch": spec.to_dict(), "ops": rows})
        layer_sum = sum(r["count"] * r["measured_ms"] for r in rows)
        predicted_sum = sum(r["count"] * r["predicted_ms"] for r in rows)
        print(
            f"{name}: end to end {end_to_end:.3f} ms, ops timed alone {layer_sum:.3f} ms, predicted {predicted_sum:.3f} ms"
        )
    atomic_write_text(args.output, json.dumps({"profile": predictor.name, "networks": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
