"""Whether an op's latency depends on what its input holds: random normal, as profiles time ops,
or what the activation before it leaves (half zeros after ReLU, none after SiLU).

``designer profile`` times every op on standard-normal inputs. A network feeds each conv the
output of an activation instead, so if the GPU runs faster on sparse data (less switching, less
power, higher clocks under a power cap), ReLU networks run faster than their ops timed alone and
SiLU networks do not. This times the costliest ops of a ``benchmarks/layer_breakdown.py`` report
three ways, with the torch backend's method (CUDA graphs, CUDA events; the residual input of an
``*_add`` op stays normal), and writes each op's milliseconds::

    python benchmarks/input_sparsity.py OUT/input-sparsity.json \\
        --breakdown docs/h200/breakdown-fp16-mbv2-targets.json --ops 12

Runs on a CUDA GPU on demand (not in tests).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.parse import read_json
from latency.measure.backend import Settings, get_backend
from latency.measure.modules import op_input_shapes, op_module, random_inputs
from latency.predict.ops import OpKey

if TYPE_CHECKING:
    import torch


def fills() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """How the op's first input is filled, by name (torch is imported only here and in ``main``)."""
    import torch.nn.functional as functional

    return {"normal": lambda x: x, "relu": functional.relu, "silu": functional.silu}


def costliest_ops(breakdown: Path, count: int) -> list[OpKey]:
    """The ``count`` ops of a breakdown report with the most measured time (count x ms) over its networks."""
    report = read_json(breakdown, "layer_breakdown.py report")
    totals: dict[str, float] = {}
    try:
        for network in report["networks"]:
            for row in network["ops"]:
                totals[row["op"]] = totals.get(row["op"], 0.0) + row["count"] * row["measured_ms"]
    except (KeyError, TypeError):
        raise DesignerError(f"{breakdown} is not a layer_breakdown.py report; give one with --breakdown") from None
    ranked = sorted(totals, key=lambda label: -totals[label])
    return [OpKey.from_label(label) for label in ranked[:count]]


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--breakdown", type=Path, required=True, help="a benchmarks/layer_breakdown.py report")
    parser.add_argument("--ops", type=int, default=12, help="how many of its costliest ops to time")
    parser.add_argument("--precision", default="fp16")
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)
    if args.ops < 1:
        raise DesignerError("--ops must be at least 1")
    ops = costliest_ops(args.breakdown, args.ops)
    import torch

    backend = get_backend("torch", Settings(precision=args.precision))
    rows = []
    for key in ops:
        with torch.device("cuda"):
            module = backend._prepare(op_module(key, "relu"))  # type: ignore[attr-defined]
        row: dict[str, object] = {"op": key.label()}
        for name, fill in fills().items():
            inputs = random_inputs(op_input_shapes(key, args.batch), backend.dtype, "cuda")  # type: ignore[attr-defined]
            filled = fill(inputs[0])
            inputs[0] = filled.contiguous(memory_format=torch.channels_last) if filled.dim() == 4 else filled
            row[f"{name}_ms"] = backend._time(partial(module, *inputs))  # type: ignore[attr-defined]
        rows.append(row)
        print(
            f"{row['op']}: " + ", ".join(f"{name} {row[f'{name}_ms']:.4f} ms" for name in fills()),  # type: ignore[str-format]
            flush=True,
        )
    report = {"device": torch.cuda.get_device_name(), "batch": args.batch, "precision": args.precision, "ops": rows}
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
