"""Op latency against channel count at fine steps: where GPU tile sizes put steps in latency.

The shipped profiles measure widths on a coarse grid (``latency.measure.grid.CHANNELS``); designs land
between its points on multiples of 8. This sweep times the ResNet basic block's convs
(``conv_act`` and ``conv_add_act``, 3x3, ``cin == cout``) and the 1x1 convs of bottleneck and
inverted-residual blocks at every multiple of 8 in a range, with the profile's backend and
method, to show how latency between two grid points behaves (linear, or a step at a tile)::

    python benchmarks/channel_steps.py out.json --precision fp16 --low 448 --high 648

``--kernels`` and ``--resolutions`` replace the default sweeps by the basic block's convs at those
kernels and (stride-1) resolutions, stride 1 and the stage's stride-2 first conv from twice the
resolution, e.g. the 5x5 convs the whole design space picks::

    python benchmarks/channel_steps.py out.json --low 64 --high 288 --kernels 3 5 --resolutions 56 28 14 7

``--expand C`` and ``--project C`` replace them by an inverted residual's 1x1 convs, whose widths
differ several times: the expansion from ``C`` channels (``conv_act``) and the projection to ``C``
channels (``conv_add``), the hidden width swept, at each of ``--resolutions``::

    python benchmarks/channel_steps.py out.json --low 1024 --high 2048 --expand 136 184 --resolutions 56 28

The file is rewritten after each op, so a run cut short keeps what it measured (an fp32 5x5 conv at
56 px takes seconds to autotune).

Runs on the GPU on demand (not in tests); writes one JSON file with the provenance and rows
``{kind, kernel, stride, res, cin, cout, ms}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from latency.measure.backend import Settings, get_backend
from latency.predict.ops import OpKey

Sweep = tuple[str, int, int, tuple[int, ...]] | tuple[str, int, int, tuple[int, ...], tuple[str, int]]
SWEEPS: tuple[Sweep, ...] = (  # (kind, kernel, stride, input resolutions[, (fixed side, its width)])
    ("conv_act", 3, 1, (28, 14, 7)),
    ("conv_add_act", 3, 1, (14, 7)),
    ("conv_act", 1, 1, (14, 7)),
)


def basic_sweeps(kernels: list[int], resolutions: list[int]) -> tuple[Sweep, ...]:
    """The basic block's convs at these kernels: both stride-1 convs at each resolution, and the
    stride-2 first conv that reaches it (input at twice the resolution)."""
    return tuple(
        sweep
        for kernel in kernels
        for sweep in (
            ("conv_act", kernel, 1, tuple(resolutions)),
            ("conv_add_act", kernel, 1, tuple(resolutions)),
            ("conv_act", kernel, 2, tuple(2 * r for r in resolutions)),
        )
    )


def pointwise_sweeps(expand: list[int], project: list[int], resolutions: list[int]) -> tuple[Sweep, ...]:
    """An inverted residual's 1x1 convs: ``conv_act`` from each of ``expand`` and ``conv_add`` to each of
    ``project`` channels (the fixed width last in the sweep), at each resolution."""
    return (
        *(("conv_act", 1, 1, tuple(resolutions), ("cin", c)) for c in expand),
        *(("conv_add", 1, 1, tuple(resolutions), ("cout", c)) for c in project),
    )


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--precision", default="fp16")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--low", type=int, default=448)
    parser.add_argument("--high", type=int, default=648)
    parser.add_argument("--step", type=int, default=8)
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for the onnxruntime backend")
    parser.add_argument("--kernels", type=int, nargs="+", help="sweep the basic block's convs at these kernels")
    parser.add_argument("--expand", type=int, nargs="+", default=[], help="sweep 1x1 convs from these widths")
    parser.add_argument("--project", type=int, nargs="+", default=[], help="sweep 1x1 convs to these widths")
    parser.add_argument(
        "--resolutions", type=int, nargs="+", default=[56, 28, 14, 7], help="with --kernels, --expand, --project"
    )
    args = parser.parse_args(argv)
    fixed = [*args.expand, *args.project]
    if min(args.low, args.step, *(args.kernels or [1]), *fixed, *args.resolutions) <= 0 or args.high < args.low:
        raise DesignerError(
            "--low, --step, --kernels, --expand, --project and --resolutions must be positive, and --high >= --low"
        )
    if args.kernels and fixed:
        raise DesignerError("give either --kernels or --expand/--project, not both")
    backend = get_backend(args.backend, Settings(precision=args.precision, device=args.device))
    if fixed:
        sweeps = pointwise_sweeps(args.expand, args.project, args.resolutions)
    else:
        sweeps = basic_sweeps(args.kernels, args.resolutions) if args.kernels else SWEEPS
    report = {"provenance": backend.provenance(), "batch": args.batch, "precision": args.precision, "rows": []}
    for kind, kernel, stride, resolutions, *held in sweeps:
        for res in resolutions:
            for channels in range(args.low, args.high + 1, args.step):
                widths = {"cin": channels, "cout": channels, **dict(held)}
                ms = backend.time_op(OpKey(kind, widths["cin"], res, widths["cout"], kernel, stride), args.batch)
                row = {"kind": kind, "kernel": kernel, "stride": stride, "res": res, **widths}
                report["rows"].append({**row, "ms": ms})
                atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")  # a run cut short keeps it
            side = "".join(f" {name} {width}" for name, width in held)
            print(f"{kind} k{kernel} s{stride} res {res}{side}: done", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
