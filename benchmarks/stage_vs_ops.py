"""Each stage of a network timed end to end against the sum of its ops timed alone, with the
network's own activation.

``benchmarks/layer_breakdown.py`` compares a whole network with its ops, each timed with the
profile's activation. This narrows a gap down to the stages: for each stage of each network, the
stage's blocks run as the network runs them (batch-norm folded, the profile's batch and
precision, on a standard-normal input of the stage's shape), and each op of the stage is timed
alone as the profile's backend times its ops, with the network's activation::

    python benchmarks/stage_vs_ops.py OUT/stage-vs-ops.json --profile h200-torch-fp16-b256 \\
        docs/h200/mbv2-act/target-29161-relu.json docs/h200/mbv2-act/target-29161-silu.json

Runs on a CUDA GPU on demand (not in tests).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import replace
from functools import partial
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.fileio import atomic_write_text
from designer.core.spec import ArchSpec
from designer.core.structure import iter_blocks
from designer.workflows.verify import ProfileMeasurer
from latency.measure.backend import Backend, get_backend
from latency.measure.modules import network_module, random_inputs
from latency.predict.ops import OpKey, layer_ops


def stage_ops(spec: ArchSpec) -> list[Counter[OpKey]]:
    """The ops of each stage and how many times each runs."""
    counts: list[Counter[OpKey]] = [Counter() for _ in spec.stages]
    for block in iter_blocks(spec):
        for layer in block.family.layers(block.shape):
            if layer.present:
                counts[block.stage].update(layer_ops(layer))
    return counts


def stage_rows(backend: Backend, spec: ArchSpec, batch: int) -> list[dict[str, object]]:
    """Per stage: its end-to-end milliseconds and the sum of its ops' milliseconds timed alone
    (by a backend like ``backend`` that times ops with the network's activation)."""
    import torch

    op_backend = get_backend(backend.name, replace(backend.settings, activation=spec.activation))

    with torch.device("cuda"):
        network = backend._prepare(network_module(spec))  # type: ignore[attr-defined]
    first = {block.stage: block.shape for block in iter_blocks(spec) if block.index == 0}
    op_ms: dict[OpKey, float] = {}
    rows = []
    for stage, counts in enumerate(stage_ops(spec)):
        shape = first[stage]
        (x,) = random_inputs([(batch, int(shape.cin), int(shape.res_in), int(shape.res_in))], backend.dtype, "cuda")  # type: ignore[attr-defined]
        stage_ms = backend._time(partial(network.stages[stage], x))  # type: ignore[attr-defined]
        for key in counts:
            if key not in op_ms:
                op_ms[key] = op_backend.time_op(key, batch)
        ops = sum(count * op_ms[key] for key, count in counts.items())
        rows.append({"stage": stage, "blocks": spec.stages[stage].depth, "stage_ms": stage_ms, "ops_ms": ops})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("networks", nargs="+", type=Path, metavar="ARCH", help="arch spec JSON files")
    parser.add_argument("--profile", required=True, help="the profile whose backend, batch and precision to use")
    args = parser.parse_args(argv)
    specs = {path.stem: ArchSpec.load(path) for path in args.networks}
    measurer = ProfileMeasurer(args.profile)
    batch = measurer.table.batch
    results = []
    for name, spec in specs.items():
        rows = stage_rows(measurer.backend, spec, batch)
        results.append({"network": name, "activation": spec.activation, "stages": rows})
        for row in rows:
            print(
                f"{name} stage {row['stage']} ({row['blocks']} blocks): end to end {row['stage_ms']:.4f} ms, "
                f"ops alone {row['ops_ms']:.4f} ms",
                flush=True,
            )
    report = {"profile": args.profile, "batch": batch, "networks": results}
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
