"""``designer profile``: measure, import, list, check and validate latency profiles."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.core.errors import DesignerError, ParameterError
from designer.core.spec import ACTIVATIONS, ArchSpec
from latency.measure.backend import REPETITIONS, WARMUP

if TYPE_CHECKING:
    from latency.measure.validate import NetResult


def register(subparsers: Any) -> None:
    profile = subparsers.add_parser(
        "profile",
        help="measure per-layer latency tables of a device (or import, list, choose, check, validate them)",
        description="Without a sub-command: time the ops of the design space on this machine's device "
        "and write the profile (default: the user profile folder, where it becomes the most recent profile, "
        "which `designer solve --target-throughput` uses unless a default is set). An interrupted run resumes. "
        "Settings not given are chosen, printed and recorded in the profile.",
    )
    profile.add_argument("--gpu", help="the target device name, e.g. h100 (must match this device); cpu for CPUs")
    profile.add_argument(
        "--backend",
        choices=("torch", "onnxruntime", "tensorrt"),
        help="what runs the ops (default: tensorrt where it imports, as deployment does, else torch)",
    )
    profile.add_argument(
        "--precision",
        help="fp32 (TF32 off; the default, as the DeepMAD paper's GPU-throughput tables), tf32, fp16 or bf16",
    )
    profile.add_argument(
        "--batch",
        type=int,
        help="batch size the profile is for (default: the largest power of two up to 256 at which the grid's "
        "largest op fits in half the GPU's memory, i.e. a saturated GPU, as the paper measures; 8 on CPUs)",
    )
    profile.add_argument("--resolution", type=int, default=224, help="input resolution of the design space")
    profile.add_argument("--families", default="basic,bottleneck,mbv2", help="block families whose layers to time")
    profile.add_argument(
        "--activation", default="relu", choices=ACTIVATIONS, help="activation timed after convs (default relu)"
    )
    profile.add_argument("--device", default=None, help="onnxruntime execution provider: cpu (default) or cuda")
    profile.add_argument("--warmup", type=int, default=WARMUP, help=f"untimed runs before timing (default {WARMUP})")
    profile.add_argument(
        "--repetitions", type=int, default=REPETITIONS, help=f"timed runs; their median counts (default {REPETITIONS})"
    )
    profile.add_argument(
        "-o", "--output", type=Path, help="profile file to write (default: <name>.json in the user profile folder)"
    )
    profile.add_argument("--limit", type=int, help="time only the first N ops of the grid (a quick trial)")
    profile.set_defaults(handler=run_build)
    commands = profile.add_subparsers(dest="profile_command", metavar="SUBCOMMAND")

    listing = commands.add_parser("list", help="the profiles found, with where they are, and the default one")
    listing.set_defaults(handler=run_list)

    use = commands.add_parser(
        "use", help="set the default profile of `designer solve --target-throughput` (without NAME: show it)"
    )
    choice = use.add_mutually_exclusive_group()
    choice.add_argument("name", nargs="?", help="profile name (v100-trt-fp32, h100-torch-fp16-b256) or path")
    choice.add_argument("--clear", action="store_true", help="forget the default set with `designer profile use`")
    use.set_defaults(handler=run_use)

    importer = commands.add_parser("import-tinynas", help="convert a published TinyNAS V100 TensorRT table")
    importer.add_argument("file", type=Path, help="conv_data.out, conv_data.out.fp16 or conv_data.out.int8")
    importer.add_argument("--gpu", default="v100", help="device name for the profiles (default v100)")
    importer.add_argument("--precision", required=True, help="the table's precision: fp32, fp16 or int8")
    importer.add_argument("--output-dir", type=Path, help="where to write (default: the user profile folder)")
    importer.set_defaults(handler=run_import)

    check = commands.add_parser("check", help="predict held-out entries of a profile from the rest")
    check.add_argument("profile", help="profile name or path")
    check.add_argument("--holdout", type=float, default=0.1, help="fraction of entries held out (default 0.1)")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument(
        "--arch",
        action="append",
        default=[],
        metavar="ARCH",
        help="also report how much of this network's predicted latency is extrapolated (arch JSON or reference "
        "name; repeatable)",
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(handler=run_check)

    validate = commands.add_parser("validate", help="predicted vs measured latency of whole networks on this device")
    validate.add_argument("profile", help="profile name or path (its device must be this machine's)")
    validate.add_argument("--nets", type=int, default=30, help="random networks of the design space (default 30)")
    validate.add_argument("--families", default="basic,bottleneck,mbv2")
    validate.add_argument("--seed", type=int, default=0)
    validate.add_argument("--repetitions", type=int, default=10, help="timed runs per network (median counts)")
    validate.add_argument(
        "--output-dir",
        type=Path,
        default=Path("."),
        help="folder for validate.json and .png (and validate.partial.json, from which a run cut short resumes)",
    )
    validate.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    validate.add_argument(
        "--measured",
        type=Path,
        metavar="REPORT",
        help="re-predict the networks of an earlier validate.json (their measured latency kept): no device needed",
    )
    validate.set_defaults(handler=run_validate)

    plot = commands.add_parser("plot", help="(re)draw validate.png from a validate.json")
    plot.add_argument("report", type=Path, help="a validate.json written by designer profile validate")
    plot.set_defaults(handler=run_plot)


def _families(text: str) -> list[str]:
    from designer.core.blocks import list_families

    families = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in families if f not in list_families()]
    if unknown or not families:
        raise DesignerError(f"--families {text!r}: use a comma-separated list of {', '.join(list_families())}")
    return families


def run_build(args: argparse.Namespace) -> int:
    from designer.workflows.profile import profile

    if not args.gpu:
        raise DesignerError("designer profile needs --gpu NAME, the device here (e.g. --gpu h100; --gpu cpu)")
    profile(
        args.gpu,
        args.backend,
        args.precision,
        args.batch,
        resolution=args.resolution,
        families=_families(args.families),
        activation=args.activation,
        device=args.device,
        warmup=args.warmup,
        repetitions=args.repetitions,
        output=args.output,
        limit=args.limit,
    )
    print(_default_line())
    return 0


def run_list(args: argparse.Namespace) -> int:
    from latency.predict.profiles import available, search_dirs

    profiles = available()
    for name, path in sorted(profiles.items()):
        print(f"{name:<32} {path}")
    if not profiles:
        print("no profiles found in " + ", ".join(str(d) for d in search_dirs()))
    print(_default_line())
    return 0


def _default_line() -> str:
    from latency.predict.default import default_profile

    try:
        choice = default_profile()
    except ParameterError:
        return "default: none (set one with `designer profile use NAME`)"
    except DesignerError as error:
        return f"default: none; {error}"
    return f"default: {choice.name} ({choice.reason})"


def run_use(args: argparse.Namespace) -> int:
    from latency.predict.default import set_default_profile

    if args.clear or args.name:
        set_default_profile(None if args.clear else args.name)
    print(_default_line())
    return 0


def run_import(args: argparse.Namespace) -> int:
    from latency.predict.profiles import user_dir
    from latency.predict.tinynas import read_tinynas

    if args.precision not in ("fp32", "fp16", "int8"):
        raise DesignerError(f"--precision {args.precision!r}: the TinyNAS tables are fp32, fp16 or int8")
    folder = args.output_dir or user_dir()
    for table in read_tinynas(args.file, args.gpu, args.precision):
        path = folder / f"{table.name}.json"
        table.save(path)
        print(f"wrote {path} ({len(table.entries)} entries)")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from latency.predict.cache import load_predictor
    from latency.predict.check import holdout_check
    from latency.predict.coverage import coverage, describe_ranges, unmeasured_kinds

    predictor = load_predictor(args.profile)
    table = predictor.table
    networks = {arch: coverage(predictor, _network(arch, table)) for arch in args.arch}
    result = holdout_check(table, args.holdout, args.seed)
    if args.json:
        report = {"profile": table.name, "holdout": args.holdout, "seed": args.seed, **result.to_dict()}
        report["coverage"] = {
            "measured": describe_ranges(predictor),
            "unmeasured_kinds": unmeasured_kinds(predictor),
            "networks": {arch: covered.extrapolated_fraction for arch, covered in networks.items()},
        }
        print(json.dumps(report))
        return 0
    print(f"{table.name}: {len(table.entries)} entries; measured ranges (cin, res, cout) per op, kernel and stride:")
    for row in describe_ranges(predictor):
        image = f" from {row['image_channels']}-channel images" if "image_channels" in row else ""
        sizes = "  ".join(f"{axis} {row[axis][0]}-{row[axis][1]}" for axis in ("cin", "res", "cout"))
        print(f"  {row['op']:8} k{row['kernel']} s{row['stride']}{image}: {sizes}")
    missing = unmeasured_kinds(predictor)
    if missing:
        print(f"not measured (priced from a sibling kind or by the roofline): {', '.join(missing)}")
    for arch, covered in networks.items():
        print(f"{arch}: {covered.summary()}")
    print(
        f"{result.count} held-out entries: median |error| {result.median_abs_error:.2%}, "
        f"p90 {result.p90_abs_error:.2%}, within +-10% {result.within_10pct:.1%}, worst {result.max_abs_error:.1%}"
    )
    return 0


def _network(arch: str, table: Any) -> Any:
    """An arch JSON or a reference network at the profile's grid resolution."""
    from designer.core.reference import REFERENCES, reference_spec
    from designer.core.spec import ArchSpec

    if arch in REFERENCES and not Path(arch).exists():
        return reference_spec(arch, int(table.provenance.get("grid", {}).get("resolution", 224)))
    return ArchSpec.load(arch)


def run_validate(args: argparse.Namespace) -> int:
    from latency.measure.backend import Settings, check_device, get_backend
    from latency.measure.validate import measure, repredict, validation_specs
    from latency.predict.cache import load_predictor

    if args.nets < 0:
        raise DesignerError("--nets must be zero or more")
    predictor = load_predictor(args.profile)
    table = predictor.table
    start = time.monotonic()
    if args.measured is not None:
        report, results, specs = repredict(predictor, args.measured)
        meta = {"profile": table.name, "device": report.get("device"), "resolution": report.get("resolution")}
        meta |= {"batch": table.batch, "measured_in": str(args.measured)}
        return _report_validation(args, results, specs, meta, start)
    provenance = table.provenance
    device = "cpu" if table.gpu == "cpu" else "cuda"
    settings = Settings(
        table.precision,
        str(provenance.get("activation", "relu")),
        min(int(provenance.get("warmup", 5)), 3),
        args.repetitions,
        device,
    )
    backend = get_backend(table.backend, settings)
    check_device(backend, table.gpu)
    resolution = int(provenance.get("grid", {}).get("resolution", 224))
    specs = validation_specs(args.nets, resolution, _families(args.families), args.seed)
    results = measure(predictor, backend, specs, partial=args.output_dir / "validate.partial.json")
    meta = {"profile": table.name, "device": backend.device_name(), "resolution": resolution, "batch": table.batch}
    return _report_validation(args, results, specs, meta, start)


def _report_validation(
    args: argparse.Namespace, results: list[NetResult], specs: list[ArchSpec], meta: dict[str, Any], start: float
) -> int:
    """Write validate.json and .png under --output-dir and print the table (or the JSON)."""
    from latency.measure.validate import table_text, write_plot, write_report

    report = write_report(results, specs, meta, args.output_dir)
    if args.json:
        print(json.dumps({**meta, "summary": report["summary"], "networks": report["networks"]}, indent=2))
    else:
        s = report["summary"]
        print(table_text(results))
        print(
            f"{len(results)} networks in {time.monotonic() - start:.0f} s: median |error| {s['median_abs_error']:.2%}, "
            f"p90 {s['p90_abs_error']:.2%}, worst {s['max_abs_error']:.2%}, mean signed {s['mean_signed_error']:+.2%}"
        )
    plot = write_plot(args.output_dir / "validate.json")
    if not args.json:
        print(f"wrote {args.output_dir / 'validate.json'} and {plot}")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from latency.measure.validate import write_plot

    print(f"wrote {write_plot(args.report)}")
    return 0
