"""How large the activations are at each stage of a network as ``--verify`` and the benchmarks
measure it: untrained, batch-norm statistics set from a random batch, then folded
(``latency.measure.modules.network_module``).

A trained network's batch-norms keep activations near unit scale. Folded at initialisation they
do not, so activations shrink (or grow) stage by stage, and a GPU's speed can depend on the data
(fp16 values below 6.1e-5 are subnormal); the calibration is there to prevent that. This runs
the network on the CPU, in float32, on a standard-normal batch, and writes each stage's largest
and mean absolute activation and its share of zeros::

    python benchmarks/activation_scale.py OUT/activation-scale.json docs/h200/mbv2-act/*.json

CPU only; deterministic (seeded).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.spec import ArchSpec
from latency.measure.modules import network_module


def stage_scales(spec: ArchSpec, batch: int, seed: int) -> list[dict[str, object]]:
    """Largest and mean |activation| and share of zeros after the stem, each stage and the head."""
    import torch

    torch.manual_seed(seed)
    network = network_module(spec).eval()
    x = torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution)
    parts = [("stem", network.stem), *((f"stage {i}", stage) for i, stage in enumerate(network.stages))]
    rows = []
    with torch.inference_mode():
        for name, part in [*parts, ("head", network.head)]:
            x = part(x)
            rows.append(
                {
                    "part": name,
                    "max_abs": float(x.abs().max()),
                    "mean_abs": float(x.abs().mean()),
                    "zeros": float((x == 0).float().mean()),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("networks", nargs="+", type=Path, metavar="ARCH", help="arch spec JSON files")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.batch < 1:
        raise DesignerError("--batch must be at least 1")
    specs = {path.stem: ArchSpec.load(path) for path in args.networks}
    results = []
    for name, spec in specs.items():
        rows = stage_scales(spec, args.batch, args.seed)
        results.append({"network": name, "activation": spec.activation, "parts": rows})
        print(f"{name}: " + ", ".join(f"{row['part']} {row['mean_abs']:.2g}" for row in rows), flush=True)
    report = {"batch": args.batch, "seed": args.seed, "networks": results}
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
