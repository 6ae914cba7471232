"""``designer solve`` and ``designer analyze``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from designer.cli.args import add_parameters, given
from designer.cli.clock import command_seconds
from designer.core.analysis import Analysis
from designer.core.entropy import PENALTIES
from designer.core.errors import ParameterError
from designer.core.fileio import check_writable
from designer.core.params import check_number
from designer.core.reference import REFERENCES
from designer.core.request import DesignRequest, parse_weights
from designer.core.solver import SolveStats
from designer.core.spec import ArchSpec
from designer.core.structure import iter_blocks, stem_output_res
from designer.core.throughput import LatencyModel
from designer.core.units import format_count
from designer.workflows.design import DesignResult

LEAST_SOLVE_SHARE = 0.5
"""The least part of ``--time-limit`` the solver gets however long the command took to reach it."""
FINISH_SECONDS = 0.5
"""Kept back from the solver for what the command does after it (price the design, and its latency
and coverage when it has a throughput target, print, exit) and for starting Python before the clock."""


def register(subparsers: Any) -> None:
    solve = subparsers.add_parser("solve", help="design the highest-entropy network under the given limits")
    add_parameters(solve, DesignRequest)
    solve.add_argument(
        "--verify", action="store_true", help="measure on this GPU and correct until within 5%% above target"
    )
    solve.add_argument("--rounds", type=int, default=4, help="most --verify rounds (default 4)")
    solve.add_argument(
        "--match", metavar="REFERENCE", help="target the throughput of a reference net (resnet50) on the profile"
    )
    solve.add_argument("-o", "--output", type=Path, help="write the arch spec (JSON) here")
    solve.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    solve.set_defaults(handler=run_solve)

    analyze = subparsers.add_parser("analyze", help="params, FLOPs, depth, width, rho and entropy of a network")
    analyze.add_argument(
        "model",
        help="arch JSON, published DeepMAD structure file (TinyNAS .txt), reference name ("
        + ", ".join(REFERENCES)
        + ") or package.module:factory returning an nn.Module",
    )
    analyze.add_argument("--resolution", type=int, default=224)
    analyze.add_argument(
        "--alpha", type=parse_weights, metavar="W,W,...", help="stage weights, deepest last (default 1,...,1,8)"
    )
    analyze.add_argument("--beta", type=float, default=10.0, help="depth-penalty weight")
    analyze.add_argument(
        "--depth-penalty", choices=PENALTIES, default="std", help="std (published code) or var (paper)"
    )
    analyze.add_argument(
        "--penalty-skip", type=int, help="leading stages the std penalty leaves out (default: the family's)"
    )
    analyze.add_argument("--json", action="store_true")
    analyze.set_defaults(handler=run_analyze)


def design_request(args: argparse.Namespace) -> DesignRequest:
    return DesignRequest(**given(args, DesignRequest))


def with_profile(request: DesignRequest, needed: bool, json_output: bool) -> tuple[DesignRequest, dict[str, str]]:
    """The request with its profile named: when ``needed`` and none is given, the default one,
    announced on the first line (on stderr with ``--json``, whose stdout stays one JSON object);
    with the reason for the JSON output."""
    if request.profile is not None or not needed:
        return request, {}
    from latency.predict.default import default_profile

    choice = default_profile()
    print(
        f"latency profile {choice.name} ({choice.reason}; --profile NAME or `designer profile use NAME` "
        "chooses another)",
        file=sys.stderr if json_output else sys.stdout,
        flush=True,
    )
    return replace(request, profile=str(choice.path)), {"profile_reason": choice.reason}


class ProgressLine:
    """The solve's progress on stderr, once it has taken a second: best design, bound, gap."""

    def __init__(self, after: float = 1.0) -> None:
        self.start = time.monotonic()
        self.next = self.start + after
        self.tty = sys.stderr.isatty()
        self.shown = False

    def __call__(self, stats: SolveStats, best: float, bound: float, open_boxes: int) -> None:
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + (1.0 if self.tty else 5.0)
        gap = f"gap {(bound - best) / abs(best):.1%}" if best > -float("inf") else "no design yet"
        line = (
            f"solving: best objective {best:,.0f}, bound {bound:,.0f} ({gap}), {stats.boxes:,} boxes, "
            f"{now - self.start:.0f} s"
        )
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)
        self.shown = True

    def close(self) -> None:
        if self.shown and self.tty:
            print(file=sys.stderr)


def within_command(request: DesignRequest) -> DesignRequest:
    """The request with its time limit counted from the command's start (imports included) and
    :data:`FINISH_SECONDS` kept back, so that the whole command ends within ``--time-limit``; the
    solver keeps at least :data:`LEAST_SOLVE_SHARE` of it. Loading a profile's predictor comes on
    top (fitting it, which a command does once per profile as the fit is cached: counted in, a slow
    fit would leave the first solve with a profile half its time)."""
    left = request.time_limit - command_seconds() - FINISH_SECONDS
    return replace(request, time_limit=max(left, LEAST_SOLVE_SHARE * request.time_limit))


def run_solve(args: argparse.Namespace) -> int:
    from designer.workflows.design import design, load_latency_model

    request = design_request(args)
    if args.output:
        check_writable(args.output, "arch spec")
    if args.rounds < 1:
        raise ParameterError(f"--rounds must be at least 1, got {args.rounds}")
    needed = request.target_throughput is not None or args.verify or bool(args.match)
    request, chosen = with_profile(request, needed, args.json)
    measurer = None
    if args.verify:
        from designer.workflows.verify import ProfileMeasurer

        measurer = ProfileMeasurer(str(request.profile))
    reference = None
    model: LatencyModel | None = None
    if args.match:
        from designer.core.analysis import analyze_spec
        from designer.core.reference import reference_spec
        from latency.predict.cache import load_predictor

        spec = reference_spec(args.match, request.resolution, request.num_classes)
        predictor = load_predictor(str(request.profile)) if measurer is None else measurer.predictor()
        speed = measurer.throughput(spec) if measurer is not None else predictor.throughput(spec)
        reference = (spec, analyze_spec(spec, request.weights, request.penalty), speed)
        request, model = replace(request, target_throughput=speed), predictor
    if measurer is not None:
        return _solve_verified(args, request, measurer, reference, chosen)
    limited = within_command(request)
    model = model if model is not None else load_latency_model(request)  # a first fit comes on top
    progress = ProgressLine()
    try:
        result = design(limited, progress=progress, latency_model=model)
    finally:
        progress.close()
    _emit(args, result, chosen, reference)
    return 0


def _solve_verified(
    args: argparse.Namespace, request: DesignRequest, measurer: Any, reference: Any, chosen: dict[str, str]
) -> int:
    from designer.workflows.verify import BAND, Round, final_round, in_band, verify

    target = request.target_throughput
    if target is None:
        raise ParameterError("--verify needs {target_throughput} (or --match)")

    def report(entry: Round) -> None:
        if not args.json:
            print(
                f"round {entry.number}: asked {entry.asked:,.0f}  predicted {entry.predicted:,.0f}  "
                f"measured {entry.measured:,.0f} images/s (target {target:,.0f}-{BAND * target:,.0f})"
                + (
                    f"; profiled {entry.new_ops} new ops, now predicted {entry.refreshed:,.0f}" if entry.new_ops else ""
                ),
                flush=True,
            )

    history = verify(request, measurer, args.rounds, report)
    given = final_round(history, target)
    extra = {
        **chosen,
        "measured_throughput": given.measured,
        "round": given.number,
        "rounds": [entry.summary() for entry in history],
    }
    _emit(args, given.design, extra, reference)
    if in_band(history, target):
        return 0
    meets = given.measured >= target
    print(
        f"error: after {len(history)} round{'s' * (len(history) > 1)}, none measured {target:,.0f}-{BAND * target:,.0f} images/s; the design "
        f"given is round {given.number}'s, measured {given.measured:,.0f}"
        + (
            " (meets the target, with less entropy than the band allows)"
            if meets
            else " (the fastest, short of the target)"
        )
        + "; neighbouring designs on the grid step over the band: raise --rounds or widen the grid (--width-step)",
        file=sys.stderr,
    )
    return 1


def _emit(args: argparse.Namespace, result: DesignResult, extra: dict[str, Any], reference: Any) -> None:
    if args.output:
        result.spec.save(args.output)
    if result.coverage is not None and not result.coverage.trusted:
        print(f"warning: {result.coverage.summary()}; its throughput is a guess", file=sys.stderr)
    data = {**result.to_dict(), **extra}
    if reference is not None:
        spec, analysis, speed = reference
        data["reference"] = {**analysis.to_dict(), "throughput": speed, "arch": spec.to_dict()}
    if args.json:
        print(json.dumps(data, indent=2))
        return
    print_design(result.spec, result.analysis, result.rho0, result.solve_seconds)
    if not result.proven:
        print(
            f"best design found in {result.solve_seconds:.0f} s, not proven optimal: its objective is at most "
            f"{result.gap:.1%} below the optimum (a larger --time-limit narrows the gap)"
        )
    if result.predicted_throughput is not None:
        measured = f", measured {extra['measured_throughput']:,.0f}" if "measured_throughput" in extra else ""
        print(
            f"predicted throughput {result.predicted_throughput:,.0f} images/s on {result.profile}{measured} "
            f"(target {result.target_throughput:,.0f})"
        )
    if reference is not None:
        spec, analysis, speed = reference
        speed_design = extra.get("measured_throughput", result.predicted_throughput)
        print_comparison(spec.name, analysis, speed, "design", result.analysis, float(speed_design or 0.0))
    if args.output:
        print(f"arch spec written to {args.output}")


def print_comparison(
    name: str, first: Analysis, first_speed: float, other: str, second: Analysis, second_speed: float
) -> None:
    rows = [
        ("throughput (images/s)", f"{first_speed:,.0f}", f"{second_speed:,.0f}"),
        ("params", format_count(first.params), format_count(second.params)),
        ("FLOPs", format_count(first.flops), format_count(second.flops)),
        ("depth", str(first.report.depth), str(second.report.depth)),
        ("rho", f"{first.report.rho:.3f}", f"{second.report.rho:.3f}"),
        ("entropy", f"{first.report.entropy:,.0f}", f"{second.report.entropy:,.0f}"),
    ]
    print(f"{'':22}  {name:>12}  {other:>12}")
    for label, a, b in rows:
        print(f"{label:22}  {a:>12}  {b:>12}")


def print_design(spec: ArchSpec, analysis: Analysis, rho0: float, seconds: float | None = None) -> None:
    rows: list[tuple[Any, ...]] = [
        ("stem", "conv", spec.stem.width, "-", spec.stem.kernel, 1, spec.stem.stride, stem_output_res(spec))
    ]
    resolution = {block.stage: block.res_out for block in iter_blocks(spec)}
    for index, stage in enumerate(spec.stages):
        inner = stage.inner if stage.inner is not None else (f"x{stage.expansion:g}" if stage.expansion else "-")
        block = stage.block + ("+se" if stage.se else "")
        rows.append(
            (
                f"stage {index + 1}",
                block,
                stage.width,
                inner,
                stage.kernel,
                stage.depth,
                stage.stride,
                resolution[index],
            )
        )
    if spec.head_width:
        rows.append(("head", "conv1x1", spec.head_width, "-", 1, 1, 1, rows[-1][-1]))
    header = ("", "block", "width", "inner", "kernel", "depth", "stride", "resolution")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)))
    report = analysis.report
    print(
        f"params {format_count(analysis.params)}  FLOPs {format_count(analysis.flops)}  depth {report.depth}  "
        f"mean width {report.mean_width:.1f}  rho {report.rho:.3f} (<= {rho0:g})  entropy {report.entropy:.1f}  "
        f"objective {analysis.objective:.1f}" + (f"  solved in {seconds:.2f} s" if seconds is not None else "")
    )


def run_analyze(args: argparse.Namespace) -> int:
    from designer.core.entropy import DEFAULT_ALPHA, DepthPenalty
    from designer.workflows.analyze import analyze, load_target, spec_penalty

    check_number("beta", args.beta, above=False)
    spec = load_target(args.model, args.resolution)
    penalty = None
    if spec is not None:
        penalty = spec_penalty(spec, args.depth_penalty, args.beta, args.penalty_skip)
    elif args.penalty_skip is not None:
        penalty = DepthPenalty(args.beta, args.depth_penalty, args.penalty_skip)
    alpha = args.alpha or DEFAULT_ALPHA
    analysis = analyze(spec if spec is not None else args.model, args.resolution, alpha, penalty)
    if args.json:
        print(json.dumps(analysis.to_dict(), indent=2))
        return 0
    report = analysis.report
    print(
        f"{analysis.name}: params {format_count(analysis.params)}  FLOPs {format_count(analysis.flops)}  "
        f"depth {report.depth}  mean width {report.mean_width:.1f}  rho {report.rho:.3f}  entropy {report.entropy:.1f}"
        + (f"  objective {analysis.objective:.1f}" if analysis.objective is not None else "")
    )
    print("  stage  resolution  channels  layers  entropy")
    for index, stage in enumerate(report.stages):
        print(f"  {index + 1:5d}  {stage.res:10d}  {stage.channels:8d}  {stage.layers:6d}  {stage.entropy:7.1f}")
    return 0
