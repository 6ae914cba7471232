"""``designer solve`` and ``designer analyze``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from designer.analysis import Analysis
from designer.entropy import DEFAULT_ALPHA, stage_weights
from designer.errors import DesignerError
from designer.units import format_count, parse_count


def register(subparsers: Any) -> None:
    solve = subparsers.add_parser("solve", help="design the highest-entropy network under the given limits")
    add_design_arguments(solve)
    solve.add_argument(
        "--verify", action="store_true", help="measure on this GPU and correct until within 5%% above target"
    )
    solve.add_argument("--rounds", type=int, default=4, help="most --verify rounds (default 4)")
    solve.add_argument(
        "--match", metavar="REFERENCE", help="target the throughput of a reference net (resnet50) on --profile"
    )
    solve.add_argument("-o", "--output", type=Path, help="write the arch spec (JSON) here")
    solve.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    solve.set_defaults(handler=run_solve)

    analyze = subparsers.add_parser("analyze", help="params, FLOPs, depth, width, rho and entropy of a network")
    analyze.add_argument(
        "model",
        help="arch JSON, reference name (resnet18, resnet34, resnet50, mobilenet_v2, "
        "efficientnet_b0) or package.module:factory returning an nn.Module",
    )
    analyze.add_argument("--resolution", type=int, default=224)
    analyze.add_argument("--alpha", help="stage weights, deepest last (default 1,...,1,8)")
    analyze.add_argument("--beta", type=float, default=10.0)
    analyze.add_argument("--json", action="store_true")
    analyze.set_defaults(handler=run_analyze)


def add_design_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", default="bottleneck", help="basic, bottleneck or mbv2 (default bottleneck)")
    parser.add_argument("--flops", help="FLOPs (MACs) budget, e.g. 4.1G or 4.1e9")
    parser.add_argument("--params", help="parameter budget, e.g. 25.6M")
    parser.add_argument("--target-throughput", type=float, help="least predicted throughput (images/s) on --profile")
    parser.add_argument("--profile", help="latency profile name (see `designer profile list`) or path")
    parser.add_argument("--rho", type=float, help="effectiveness bound rho0 (default 0.3 ResNet families, 0.5 mbv2)")
    parser.add_argument("--alpha", help="weights of the stage entropies, deepest last (default 1,...,1,8)")
    parser.add_argument("--beta", type=float, default=10.0, help="depth-uniformity penalty weight")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--stages", type=int, default=5, help="down-sampling stages, the stem included")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--kernel", type=int, help="kernel of every block (default 3; 5 for mbv2)")
    parser.add_argument("--expansion", type=int, help="bottleneck out/inner width (4) or mbv2 hidden/in width (6)")
    parser.add_argument("--head-width", type=int, default=1280, help="mbv2 1x1 head conv width")
    parser.add_argument("--width-step", type=int, default=8, help="widths are multiples of this")
    parser.add_argument("--max-width", type=int, default=2048)
    parser.add_argument("--max-depth", type=int, default=32, help="most blocks per stage")
    parser.add_argument("--time-limit", type=float, help="give up after this many seconds")


def design_request(args: argparse.Namespace) -> Any:
    from designer.design import DesignRequest

    alpha = tuple(_parse_alpha(args.alpha, args.stages))
    return DesignRequest(
        family=args.family,
        flops=parse_count(args.flops, "--flops") if args.flops else None,
        params=parse_count(args.params, "--params") if args.params else None,
        rho=args.rho,
        alpha=alpha,
        beta=args.beta,
        resolution=args.resolution,
        stages=args.stages,
        width_step=args.width_step,
        max_width=args.max_width,
        max_depth=args.max_depth,
        kernel=args.kernel,
        expansion=args.expansion,
        head_width=args.head_width,
        num_classes=args.classes,
        time_limit=args.time_limit,
        target_throughput=args.target_throughput,
        profile=args.profile,
    )


def _parse_alpha(text: str | None, stages: int) -> list[float]:
    if text is None:
        return list(stage_weights(stages, DEFAULT_ALPHA))
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise DesignerError(f"--alpha {text!r} is not a comma-separated list of numbers, e.g. 1,1,1,1,8") from None
    if len(values) != stages or any(v < 0 for v in values):
        raise DesignerError(
            f"--alpha needs {stages} non-negative weights (one per down-sampling stage), got {len(values)}"
        )
    return values


def run_solve(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from designer.design import design

    request = design_request(args)
    measurer = None
    if args.verify or args.match:
        if not args.profile:
            raise DesignerError("--verify and --match need --profile NAME (the target GPU's latency profile)")
    if args.verify:
        from designer.verify import Measurer

        measurer = Measurer(args.profile)
    reference = None
    if args.match:
        from designer.analysis import analyze_spec
        from designer.reference import reference_spec
        from latency.predictor import Predictor

        spec = reference_spec(args.match, args.resolution, args.classes)
        predictor = Predictor.load(args.profile) if measurer is None else measurer.predictor()
        speed = measurer.throughput(spec) if measurer is not None else predictor.throughput(spec)
        reference = (spec, analyze_spec(spec, request.alpha, request.beta), speed)
        request = replace(request, target_throughput=speed)
    if measurer is not None:
        return _solve_verified(args, request, measurer, reference)
    result = design(request)
    _emit(args, result, {}, reference)
    return 0


def _solve_verified(args: argparse.Namespace, request: Any, measurer: Any, reference: Any) -> int:
    from designer.verify import BAND, in_band, verify

    target = request.target_throughput

    def report(entry: Any) -> None:
        if not args.json:
            print(
                f"round {entry.number}: asked {entry.asked:,.0f}  predicted {entry.predicted:,.0f}  "
                f"measured {entry.measured:,.0f} images/s (target {target:,.0f}-{BAND * target:,.0f})"
                + (f"; profiled {entry.new_ops} new ops" if entry.new_ops else ""),
                flush=True,
            )

    history = verify(request, measurer, args.rounds, report)
    last = history[-1]
    extra = {
        "measured_throughput": last.measured,
        "rounds": [
            {"asked": r.asked, "predicted": r.predicted, "measured": r.measured, "new_ops": r.new_ops} for r in history
        ],
    }
    _emit(args, last.design, extra, reference)
    if in_band(history, target):
        return 0
    closest = min(history, key=lambda r: abs(r.measured / target - (1 + BAND) / 2))
    print(
        f"error: after {len(history)} rounds the measured throughput is {last.measured:,.0f} images/s, outside "
        f"{target:,.0f}-{BAND * target:,.0f} (closest: round {closest.number}, {closest.measured:,.0f}); "
        "neighbouring designs on the grid step over the band: raise --rounds or widen the grid (--width-step)",
        file=sys.stderr,
    )
    return 1


def _emit(args: argparse.Namespace, result: Any, extra: dict[str, Any], reference: Any) -> None:
    if args.output:
        result.spec.save(args.output)
    data = {**result.to_dict(), **extra}
    if reference is not None:
        spec, analysis, speed = reference
        data["reference"] = {**analysis.to_dict(), "throughput": speed, "arch": spec.to_dict()}
    if args.json:
        print(json.dumps(data, indent=2))
        return
    print_design(result.spec, result.analysis, result.rho0, result.solve_seconds)
    if "predicted_throughput" in result.extra:
        measured = f", measured {extra['measured_throughput']:,.0f}" if "measured_throughput" in extra else ""
        print(
            f"predicted throughput {result.extra['predicted_throughput']:,.0f} images/s on {args.profile}{measured} "
            f"(target {result.extra['target_throughput']:,.0f})"
        )
    if reference is not None:
        spec, analysis, speed = reference
        speed_design = extra.get("measured_throughput", result.extra.get("predicted_throughput"))
        print_comparison(spec.name, analysis, speed, "design", result.analysis, speed_design)
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


def print_design(spec: Any, analysis: Analysis, rho0: float, seconds: float | None = None) -> None:
    from designer.structure import iter_blocks, stem_output_res

    rows = [("stem", "conv", spec.stem.width, "-", spec.stem.kernel, 1, spec.stem.stride, stem_output_res(spec))]
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
    analysis = analyze_target(args.model, args.resolution, args.alpha, args.beta)
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


def analyze_target(target: str, resolution: int, alpha_text: str | None, beta: float) -> Analysis:
    from designer.analysis import analyze_spec
    from designer.reference import REFERENCES, reference_spec
    from designer.spec import ArchSpec

    alpha = DEFAULT_ALPHA if alpha_text is None else _parse_alpha(alpha_text, len(alpha_text.split(",")))
    if target in REFERENCES:
        return analyze_spec(reference_spec(target, resolution), alpha, beta)
    if Path(target).suffix == ".json" or Path(target).exists():
        spec = ArchSpec.load(target)
        return analyze_spec(spec, alpha, beta)
    if ":" in target:
        from designer.walk import analyze_module, load_module

        return analyze_module(load_module(target), resolution, alpha=alpha, name=target)
    raise DesignerError(
        f"{target!r} is not an arch JSON, a reference network ({', '.join(REFERENCES)}) or package.module:factory"
    )
