"""Generate docs/RESULTS.md from the committed raw outputs (docs/**, profiles/*.json).

    python benchmarks/results_report.py            # rewrite docs/RESULTS.md
    python benchmarks/results_report.py --check    # exit 1 if docs/RESULTS.md is out of date

Every figure in the report is read or computed from a committed file; only the text around the
figures, the commands and the settings that name a run (``--seed 3``) live here.
``tests/test_results_report.py`` renders the report and compares it with the committed one, so
the two cannot drift: after new measurements, commit the raw files and run this script.

Adding a section: write ``section_NAME(source: Source) -> str`` that reads its files with
``source.json`` / ``jsonl`` / ``csv`` / ``text`` (paths relative to the repository root) and
returns the section's Markdown, heading included (``paragraph`` and ``bullet`` wrap text,
``percent``, ``span`` and the other helpers format figures); add it to :data:`SECTIONS` where it
belongs; add a row to benchmarks/README.md naming its command, machine and files; run the
script and commit the new docs/RESULTS.md. Standard library only: the test needs no torch.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from designer.cli.args import Parser
from designer.cli.guard import run_guarded

ROOT = Path(__file__).resolve().parents[1]
REPORT = "docs/RESULTS.md"
WIDTH = 100
NUMBER_WORDS = ("none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
DISPLAY = {"resnet50": "ResNet-50", "mobilenet_v2": "MobileNetV2"}
"""Reference network names as the report spells them."""
BUDGET_NAMES = {
    ("11.7M", "1.8G"): "R18-size",
    ("21.8M", "3.6G"): "R34-size",
    ("25.6M", "4.1G"): "R50-size",
    ("5.3M", "0.39G"): "B0-size",
    ("3.5M", "0.32G"): "MBv2-size",
}
"""``(--params, --flops)`` of the budgets named after the reference net of that size."""
OPEN_LOOP_BAND = 0.05
"""Open-loop predictions count as on target within this relative error (the ``--verify`` band)."""
TIE = 1e-9
"""Relative difference below which two objective values are the same design's."""
EXPORTS = (
    ("docs/export/export-resnet50.json", "ResNet-50"),
    ("docs/export/export-deepmad-r50.json", "DeepMAD R50 design"),
)


class Source:
    """The committed files under a repository root, each read and parsed once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[tuple[str, str], Any] = {}

    def _load(self, kind: str, path: str, parse: Callable[[str], Any]) -> Any:
        if (kind, path) not in self._cache:
            self._cache[(kind, path)] = parse((self.root / path).read_text(encoding="utf-8"))
        return self._cache[(kind, path)]

    def text(self, path: str) -> str:
        return str(self._load("text", path, str))

    def json(self, path: str) -> Any:
        return self._load("json", path, json.loads)

    def jsonl(self, path: str) -> list[dict[str, Any]]:
        return list(self._load("jsonl", path, lambda text: [json.loads(line) for line in text.splitlines() if line]))

    def csv(self, path: str) -> list[dict[str, str]]:
        return list(self._load("csv", path, lambda text: list(csv.DictReader(io.StringIO(text)))))


# --- formatting -----------------------------------------------------------------------------------


LIST_MARKER = r"(?:[-+*>#|]|\d+[.)])(?: |$)"
UNIT = r"(?:%|img/s|px|ms|s|M|G)(?:[\s,.;:)]|$)"
KEEP_WITH_PREVIOUS = re.compile(rf" (?={LIST_MARKER}|{UNIT})")
"""Spaces a line must not break at: before a unit, and before what Markdown reads as a list item."""


def paragraph(text: str) -> str:
    """``text`` wrapped at :data:`WIDTH`, units kept with their figures and no line starting a list."""
    protected = KEEP_WITH_PREVIOUS.sub("\0", text)
    lines = textwrap.wrap(protected, WIDTH, break_long_words=False, break_on_hyphens=False)
    return "\n".join(line.replace("\0", " ") for line in lines)


def bullet(text: str) -> str:
    """A Markdown list item, wrapped like :func:`paragraph`."""
    return textwrap.indent(paragraph("* " + text), "  ", lambda line: not line.startswith("* "))


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table; every row must have a cell under each heading."""
    lines = [header, ["---"] * len(header), *rows]
    for cells in lines:
        if len(cells) != len(header):
            raise ValueError(f"a table row has {len(cells)} cells under {len(header)} headings: {list(cells)}")
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def span(values: Iterable[float], fmt: str, unit: str = "") -> str:
    """``"lo–hi"`` of ``values`` formatted with ``fmt`` (one figure when they round alike)."""
    low, high = (format(value, fmt) for value in (min(values), max(values)))
    return (low if low == high else f"{low}–{high}") + unit


def percent(fraction: float, digits: int = 2) -> str:
    return f"{100 * fraction:.{digits}f} %"


def percent_span(fractions: Iterable[float], digits: int) -> str:
    return span([100 * f for f in fractions], f".{digits}f", " %")


def scientific(value: float) -> str:
    """``3.8e-7`` (two significant figures, no exponent padding)."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def count_word(n: int) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)


def spaced_unit(size: str) -> str:
    """``"11.7M"`` as ``"11.7 M"``."""
    return re.sub(r"^([\d.]+)([KMG])$", r"\1 \2", size)


def cudnn_version(code: str) -> str:
    """cuDNN's version number (``91900``) as its release (``9.19``)."""
    number = int(code)
    return f"{number // 10000}.{number % 10000 // 100}"


def flags(arguments: str) -> dict[str, str]:
    """``"--family basic --flops 1.8G"`` as ``{"family": "basic", "flops": "1.8G"}``."""
    tokens = arguments.split()
    return {name.removeprefix("--"): value for name, value in zip(tokens[::2], tokens[1::2])}


def script_flag(script: str, name: str) -> list[str]:
    """The values after ``--name`` in a shell script's command line."""
    match = re.search(rf"--{name}((?: [^-\s]\S*)+)", script)
    if match is None:
        raise ValueError(f"no --{name} in the script")
    return match.group(1).split()


def log_match(text: str, pattern: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {pattern!r} in the log")
    return match


# --- provenance ---------------------------------------------------------------------------------


def section_header(source: Source) -> str:
    gpu = source.json("profiles/h100-torch-fp16-b256.json")["provenance"]
    vm = source.json("docs/solve_times.json")["machine"]
    python = source.json("docs/solver_vs_search.json")["machine"]["python"]
    dated = {
        "the H100 latency tables": [
            source.json(f"profiles/h100-torch-{p}-b256.json")["provenance"]["date"] for p in ("fp16", "fp32")
        ],
        "`v100-solve.json`": [source.json("docs/v100-solve.json")["machine"]["date"]],
    }
    dates = ", ".join(f"{span([d[:10] for d in stamps], 's')} ({what})" for what, stamps in dated.items())
    text = (
        "This file is generated by `python benchmarks/results_report.py` from the raw outputs in this folder "
        "(and the shipped profiles), which the command named next to each figure wrote (`benchmarks/README.md` "
        "lists them); edit the script, not this file. "
        f"GPU figures: the lent {gpu['device_name']} (driver {gpu['driver']}, CUDA {gpu['cuda']}, "
        f"cuDNN {cudnn_version(gpu['cudnn'])}, PyTorch {gpu['libraries']['torch']}) unless a line says "
        f"NVIDIA H200; CPU figures: the project's {vm['cpus']}-core development VM "
        f"(Python {'.'.join(python.split('.')[:2])}), shared with other work, so its wall times vary "
        f"from run to run. Dates, where the files record them: {dates}."
    )
    return "# Measured results\n\n" + paragraph(text)


# --- solver -------------------------------------------------------------------------------------


def proof(row: dict[str, Any]) -> str:
    """``"proven"``, or the most the design can be below the optimum when the time limit came first."""
    return "proven" if row["proven_optimal"] else f"gap {percent(row['gap'], 1)}"


def budget_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    """One table row per (params, FLOPs) budget, the families side by side."""
    budgets: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        args = flags(row["args"])
        if "target-throughput" not in args:
            budgets.setdefault((args["params"], args["flops"]), []).append(row)
    return [
        [
            f"{BUDGET_NAMES.get(budget, '')} {spaced_unit(budget[0])} / {spaced_unit(budget[1])}".strip(),
            " / ".join(flags(r["args"])["family"] for r in group),
            " / ".join(f"{r['objective']:,.1f}" for r in group),
            " / ".join(proof(r) for r in group),
            " / ".join(f"{r['wall_seconds']:.1f}" for r in group),
        ]
        for budget, group in budgets.items()
    ]


def throughput_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    """One table row per throughput target: first (fits the predictor) and cached-fit wall times."""
    cases: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        if "target-throughput" in flags(row["args"]):
            cases.setdefault(row["args"], {})[row["run"].split()[0]] = row
    result = []
    for arguments, runs in cases.items():
        args = flags(arguments)
        result.append(
            [
                f"throughput >= {int(args['target-throughput']):,} img/s on `{args['profile']}`",
                args["family"],
                f"{runs['first']['objective']:,.1f}",
                proof(runs["first"]),
                f"{runs['first']['wall_seconds']:.1f} first, {runs['again']['wall_seconds']:.1f} cached fit",
            ]
        )
    return result


def search_comparison(source: Source) -> str:
    data = source.json("docs/solver_vs_search.json")
    rows = data["rows"]

    def relative(row: dict[str, Any], key: str) -> float:
        return float(row[key] / row["solver_objective"] - 1)

    beats = sum(relative(row, "evolution_objective") > TIE for row in rows)
    ties = sum(abs(relative(row, "evolution_objective")) <= TIE for row in rows)
    worse = sum(relative(row, "random_objective") < -TIE for row in rows)
    return (
        f"`solver_vs_search.json` (`python benchmarks/solver_vs_search.py --out ...`, {data['samples']:,} samples "
        f"each): an evolutionary search beats the solver on {count_word(beats)} of the {len(rows)} budgets "
        f"(it ties on {ties}) and random scaled search is worse on {worse} of {len(rows)}; exhaustive enumeration "
        "on small instances is in the tests."
    )


def seed_spread(source: Source) -> str:
    """The spread of time-limited designs over the local search's seeds (``docs/solver_seeds.json``),
    beside the version before (``docs/solver_seeds-090384b.json``)."""
    data = source.json("docs/solver_seeds.json")
    before = source.json("docs/solver_seeds-090384b.json")
    runs = len(data["rows"][0]["objectives"])

    def mean_gap(row: dict) -> str:
        return f"{100 * sum(row['gaps']) / len(row['gaps']):.2f} %"

    spreads = "; ".join(
        f"`{row['args']}` {row['worst']:,.0f} to {row['best']:,.0f} (mean {row['mean']:,.0f}, mean gap {mean_gap(row)})"
        for row in data["rows"]
    )
    earlier = "; ".join(
        f"{row['worst']:,.0f} to {row['best']:,.0f} (mean {row['mean']:,.0f}, mean gap {mean_gap(row)})"
        for row in before["rows"]
    )
    return (
        f"Where the limit stops the proof, the design depends on the local search's seed and on timing: over seeds "
        f"0 to {runs - 1}, solving for {data['time_limit']:g} s each in a process of its own, as `designer solve` "
        f"runs (`python benchmarks/solver_seeds.py docs/solver_seeds.json --seeds {runs} --fresh`, one solve after "
        f"the other on the {data['machine']['cpus']}-core VM), the objectives span {spreads}. The version before "
        f"(`{before['version']}`, climbing from the best three of the relaxation's designs instead of ten; "
        f"`docs/solver_seeds-090384b.json`, run just before), in the same order: {earlier}."
    )


def section_solver(source: Source) -> str:
    data = source.json("docs/solve_times.json")
    rows = budget_rows(data["rows"]) + throughput_rows(data["rows"])
    text = (
        "Default settings (the whole design space, time limit 10 s, counted from the command's start): wall time "
        "of the whole command in a fresh process, `python benchmarks/solve_times.py "
        f"docs/solve_times.json` on the {data['machine']['cpus']}-core VM (with a profile, the first solve also "
        "fits the predictor, on top of the limit, which `latency/predict/cache.py` keeps for the next); a solve "
        "stopped by the time limit reports the gap, the most its design can be below the optimum (from the "
        "Lagrangian relaxation, "
        "`designer/core/relaxation.py`). " + search_comparison(source) + " " + seed_spread(source)
    )
    return "\n\n".join(
        [
            "## Solver (`designer solve`)",
            table(["budget", "family", "objective", "optimality", "wall (s)"], rows),
            paragraph(text),
        ]
    )


def published_row(row: dict[str, Any], measured: dict[str, dict[str, Any]]) -> list[str]:
    budget, penalty, theirs, ours = row["budget"], row["penalty"], row["published"], row["ours"]
    ours_file = f"docs/deepmad/{row['arch']['name']}.json"

    def speed(name: str) -> str:
        found = measured.get(name)
        return "—" if found is None else f"{found['measured']:,.0f} ({found['error']:+.1%})"

    return [
        f"{budget['flops'] / 1e9:.2f} G, {budget['params'] / 1e6:.2f} M, {budget['rho0']:g}",
        f"{penalty['kind']} (skip {penalty['skip']})",
        f"{theirs['name']}: {theirs['entropy']:,.0f} / {theirs['objective']:,.0f}",
        f"{ours['entropy']:,.0f} / {ours['objective']:,.0f}",
        f"{speed(theirs['name'])} vs {speed(ours_file)}",
    ]


def section_published(source: Source) -> str:
    compare = source.json("docs/deepmad/compare.json")
    measured_file = source.json("docs/h200/measured-fp16.json")
    measured = {row["arch"]: row for row in measured_file["rows"]}
    seconds = span([row["ours"]["seconds"] for row in compare["rows"]], ".0f", " s")
    intro = (
        "`python benchmarks/published_designs.py --out docs/deepmad --time-limit 30` (CPU; `deepmad/compare.json`, "
        "our designs as `deepmad/ours-*.json`): at each published budget, with the published settings (alpha "
        "1,1,1,1,8, beta 10, strides 2 then 2,2,2,1,2, kernels 3 and 5, first body stage at most 3 blocks), the "
        f"whole design space solved for {seconds} (not proven optimal; the solver table above gives the gap at "
        "these budgets), against the published structure, both scored by `designer analyze`. "
        "Measured images/s (and the prediction's error) on the lent "
        f"{measured_file['device']}, fp16, batch 256, by `python benchmarks/measure_designs.py --profile "
        f"{measured_file['profile']} --out OUT/measured-fp16.json ARCH...` (`h200/measured-fp16.json`, predicted by "
        f"the shipped table, {measured_file['provenance']['grid']['ops']:,} ops):"
    )
    header = [
        "budget (MACs, params, rho0)",
        "depth penalty",
        "published entropy / objective",
        "ours: entropy / objective",
        "H200 img/s: published vs ours",
    ]
    theirs = measured.get("deepmad_29m")
    note = (
        "The paper's form of the penalty (`var`) scores the published depths (1, 11, 12, 13, 15) far below zero, "
        "so the published code's `std` over the last three body stages is the default. "
        + (
            ""
            if theirs is None
            else f"The published DeepMAD-29M (mobile, SE on the hidden width) measures {theirs['measured']:,.0f} "
            f"img/s (predicted {theirs['error']:+.1%} off)."
        )
    )
    return "\n\n".join(
        [
            "## Published DeepMAD designs (`designer analyze`)",
            paragraph(intro),
            table(header, [published_row(row, measured) for row in compare["rows"]]),
            paragraph(note),
        ]
    )


# --- latency tables -----------------------------------------------------------------------------


def v100_tables(results: dict[str, Any], precision: str) -> list[str]:
    """The table names (``v100-trt-fp16-b1``) of a ``latency_predictor.py`` report at ``precision``."""
    names = dict.fromkeys(key.split("/")[0] for key in results)
    return [name for name in names if f"-{precision}-" in name]


def table_batch(name: str) -> int:
    return int(name.rsplit("-b", 1)[1])


def v100_accuracy(source: Source) -> str:
    check = source.json("docs/v100-check.json")
    fp32, fp16 = v100_tables(check, "fp32"), v100_tables(check, "fp16")

    def figures(tables: list[str], label: str, field: str, digits: int) -> str:
        return percent_span([check[f"{t}/{label}"][field] for t in tables], digits)

    inconsistent = {t: check[f"{t}/inconsistent_share"]["share"] for t in fp16}
    least_consistent = max(inconsistent, key=inconsistent.__getitem__)
    least_accurate = min(fp16, key=lambda t: check[f"{t}/ours"]["within_10pct"])
    if least_consistent == least_accurate:
        worst = f"the batch-{table_batch(least_consistent)} table, the least consistent, is also the least accurate"
    else:
        worst = (
            f"the least consistent is the batch-{table_batch(least_consistent)} table, the least accurate "
            f"the batch-{table_batch(least_accurate)} one"
        )
    batches = ", ".join(str(b) for b in sorted({table_batch(t) for t in fp32}))
    return (
        "`profile check --holdout 0.1 --seed 0` on the imported V100 TensorRT tables (`../shared/data/tinynas-v100/`; "
        "`python benchmarks/latency_predictor.py --json docs/v100-check.json`): FP32 median |error| "
        f"{figures(fp32, 'ours', 'median_abs_error', 2)}, {figures(fp32, 'ours', 'within_10pct', 1)} within ±10 % "
        f"(batches {batches}); FP16 median {figures(fp16, 'ours', 'median_abs_error', 2)}, "
        f"{figures(fp16, 'ours', 'within_10pct', 1)} within ±10 % (the published method: "
        f"{figures(fp32 + fp16, 'published', 'within_10pct', 0)}). The FP16 misses are mostly the shortest ops, "
        f"and the FP16 tables are less self-consistent: {figures(fp16, 'inconsistent_share', 'share', 1)} of their "
        "entries run more than 10 % slower than a grid neighbour doing more work (or faster than one doing less), "
        f"against {figures(fp32, 'inconsistent_share', 'share', 1)} in FP32 — {worst}. " + completion_settings(source)
    )


def completion_settings(source: Source) -> str:
    """What other completion settings gain on FP16 over the shipped one (the first in the file)."""
    ablation = source.json("docs/v100-ablation.json")
    settings = list(dict.fromkeys(key.split("/", 2)[2] for key in ablation if "/completion/" in key))
    shifts, distances = zip(*(map(float, setting.split("-")) for setting in settings))
    fp16 = v100_tables(ablation, "fp16")
    gain = max(
        ablation[f"{t}/completion/{s}"]["within_10pct"] - ablation[f"{t}/completion/{settings[0]}"]["within_10pct"]
        for t in fp16
        for s in settings[1:]
    )
    return (
        f"Other settings of the completion (shift reach {span(shifts, 'g')}, category distance "
        f"{span(distances, 'g')}; `python benchmarks/predictor_ablation.py --json docs/v100-ablation.json`) gain "
        f"at most {100 * gain:.1f} points on FP16."
    )


def tile_snapping(source: Source) -> str:
    ablation = source.json("docs/v100-ablation.json")

    def within(precision: str, setting: str) -> str:
        tables = v100_tables(ablation, precision)
        return percent_span([ablation[f"{t}/widths/{setting}"]["within_10pct"] for t in tables], 0)

    return (
        "Tile snapping stays on tensor cores only: applied to the V100 FP32 tables it drops whole held-out widths "
        f"within ±10 % from {within('fp32', 'no-snap')} to {within('fp32', 'snap')}, while on FP16 it raises them "
        f"from {within('fp16', 'no-snap')} to {within('fp16', 'snap')} (`benchmarks/predictor_ablation.py`, "
        "`v100-ablation.json`)."
    )


def validation_figures(source: Source, path: str) -> str:
    summary = source.json(path)["summary"]
    return (
        f"median {percent(summary['median_abs_error'])}, p90 {percent(summary['p90_abs_error'])}, "
        f"worst {percent(summary['max_abs_error'])}"
    )


def worst_net(source: Source, path: str) -> str:
    """The network of a validate report predicted worst, with its stages (``depth x width kN``)."""
    report = source.json(path)
    row = max(report["networks"], key=lambda n: abs(n["predicted_ms"] / n["measured_ms"] - 1))
    spec = next(s for s in report["specs"] if s["name"] == row["name"])
    stages = ", ".join(f"{st['depth']}x{st['width']} k{st['kernel']}" for st in spec["stages"])
    return f"{row['name']} ({stages}), {row['predicted_ms'] / row['measured_ms'] - 1:+.1%}"


def random_nets(source: Source, path: str) -> list[str]:
    return [n["name"] for n in source.json(path)["networks"] if n["name"].startswith("random-")]


def largest_channel_step(source: Source) -> str:
    """The largest latency step between neighbouring widths of the fp16 3x3 sweeps."""
    rows = [row for row in source.json("docs/h100/steps/steps-fp16.json")["rows"] if row["kernel"] == 3]
    pairs = [(a, b) for a, b in zip(rows, rows[1:]) if (a["kind"], a["res"]) == (b["kind"], b["res"])]
    low, high = max(pairs, key=lambda pair: pair[1]["ms"] / pair[0]["ms"])
    return (
        f"in fp16 a {low['kernel']}x{low['kernel']} conv at {high['cin']} channels takes "
        f"{100 * (high['ms'] / low['ms'] - 1):.0f} % longer than at {low['cin']} ({low['res']} px), the largest "
        f"step between widths {high['cin'] - low['cin']} apart"
    )


def breakdown_gap(source: Source, paths: Iterable[str]) -> str:
    """How far the ops timed alone sum from the end-to-end latency, over the broken-down nets."""
    gaps = [
        abs(sum(op["count"] * op["measured_ms"] for op in network["ops"]) / network["measured_ms"] - 1)
        for path in paths
        for network in source.json(path)["networks"]
    ]
    return percent_span(gaps, 1)


def h100_validation(source: Source) -> str:
    fp16, fp32, fp32_seed1 = (f"docs/h100/validate-{name}.json" for name in ("fp16", "fp32", "fp32-seed1"))
    first = source.json(fp16)
    randoms = len(random_nets(source, fp16))
    references = [DISPLAY.get(n["name"], n["name"]) for n in first["networks"] if not n["name"].startswith("random-")]
    slowdown = source.json("docs/h100/misaligned-slowdown.json")["h100-torch-fp32-b256"]["rows"]
    return (
        f"`profile validate --nets {randoms}` ({randoms} random nets + {' + '.join(references)}, end to end, torch "
        f"backend, batch {first['batch']}, {first['resolution']} px): fp16 (`--seed 3`, "
        f"`h100/validate-fp16.json/.png`) {validation_figures(source, fp16)}; fp32 (TF32 off, the sparse-grid "
        "table below) `--seed 0` "
        f"(`h100/validate-fp32.json/.png`) {validation_figures(source, fp32)}, and `--seed 1` "
        f"(`h100/validate-fp32-seed1.json/.png`, {len(random_nets(source, fp32_seed1))} other nets) "
        f"{validation_figures(source, fp32_seed1)}. Earlier fp16 validations that found the gaps the predictor now "
        "models (tensor-core tile steps, misaligned widths): `h100/steps/` (`benchmarks/channel_steps.py`: "
        f"{largest_channel_step(source)}) and `h100/breakdown-seed*.json` (`benchmarks/layer_breakdown.py`: ops "
        f"timed alone sum to within {breakdown_gap(source, [f'docs/h100/breakdown-seed{seed}.json' for seed in (1, 2)])} of end to end). fp32 has misaligned widths too: a first "
        "sparse fp32 build without alignment probes (not kept) under-predicted the seed-1 nets that have them; the "
        f"probes show such convs {percent_span([r['factor'] - 1 for r in slowdown if r['kernel'] is not None], 0)} "
        "slower than the aligned model in fp32 (`h100/misaligned-slowdown.json`, `python "
        "benchmarks/misaligned_slowdown.py`), and the predictor now applies them on every GPU backend. "
        + tile_snapping(source)
    )


def neighbour_swing(rows: list[dict[str, Any]], kernel: int) -> str:
    """The largest latency ratio between neighbouring widths of one sweep's convs of ``kernel``."""
    rows = [row for row in rows if row["kernel"] == kernel]
    line = [
        (a, b)
        for a, b in zip(rows, rows[1:])
        if (a["kind"], a["stride"], a["res"]) == (b["kind"], b["stride"], b["res"])
    ]
    a, b = max(line, key=lambda pair: max(pair[1]["ms"] / pair[0]["ms"], pair[0]["ms"] / pair[1]["ms"]))
    conv = f"{kernel}x{kernel} stride-{a['stride']} {a['kind']} from {a['res']} px"
    return f"{a['cin']} channels {a['ms']:.2f} ms, {b['cin']} channels {b['ms']:.2f} ms, {conv}"


def breakdown_op(source: Source, path: str, network: str) -> str:
    """The op of a broken-down network whose prediction is off by most milliseconds."""
    ops = next(n for n in source.json(path)["networks"] if n["network"] == network)["ops"]
    op = max(ops, key=lambda o: o["count"] * abs(o["predicted_ms"] - o["measured_ms"]))
    return f"`{op['op']}` priced at {op['predicted_ms']:.2f} ms and measured at {op['measured_ms']:.2f} ms"


def h200_validation(source: Source) -> str:
    fp16, fp32 = (source.json(f"profiles/h200-torch-{p}-b256.json") for p in ("fp16", "fp32"))
    shipped16 = [f"docs/h200/validate-fp16{suffix}.json" for suffix in ("", *(f"-seed{s}" for s in range(1, 5)))]
    shipped32 = [f"docs/h200/validate-fp32{suffix}.json" for suffix in ("", *(f"-seed{s}" for s in range(1, 7)))]
    run = "docs/h200/runs/validate-{}-seed{}.json".format
    card = source.text("docs/h200/card-fp32.txt")
    chosen_profile = log_match(card, r"^latency profile (\S+) \(").group(1)
    predicted = log_match(card, r"^predicted throughput ([\d,]+) images/s").group(1)
    grid16 = fp16["provenance"]["grid"]
    steps16, steps32 = (source.json(f"docs/h200/steps-{name}.json")["rows"] for name in ("fp16-k35", "fp32-wide"))
    seeds = "; ".join(f"`--seed {seed}` {validation_figures(source, path)}" for seed, path in enumerate(shipped16))
    return (
        f"H200 (`../profiles/h200-torch-fp16-b256.json` and `-fp32-b256.json`, {fp16['provenance']['device_name']}, "
        f"driver {fp16['provenance']['driver']}): the fp16 table (dense grid of the whole design space, all "
        f"{count_word(len(grid16['families']))} families, {grid16['ops']:,} ops) took {build_calls(fp16)}, resumed "
        f"as the grid grew; the fp32 table (sparse grid, {len(fp32['entries']):,} ops) {build_calls(fp32)}. Both now time "
        "the 5x5 convs with `cin == cout` at every multiple of 8 from 64 to 512 (`latency.measure.grid."
        "DENSE_KERNELS`): `python benchmarks/channel_steps.py OUT --low 64 --high 288 --kernels 5 3 --resolutions "
        f"56 28 14 7` (`h200/steps-fp16-k35.json`) shows 5x5 latency jumping between neighbouring widths ("
        f"{neighbour_swing(steps16, 5)}), up and down, as cuDNN changes algorithm, where 3x3 stays smooth. "
        f"fp16, `designer profile validate ... --nets {len(random_nets(source, shipped16[0]))}`, the shipped "
        f"table's predictions (`h200/validate-fp16*.json/.png`): {seeds}. Each seed's networks were measured "
        "once (`h200/runs/`) and are re-predicted with `designer profile validate PROFILE --measured RUN`; seeds 1 "
        "and 2 (and the sweep) led to the dense lines, seed 3 was measured before they were chosen and not looked "
        "at in choosing them, and seed 4 was measured last, with the table and predictor as shipped. "
        f"Before the dense lines seed 2 had {validation_figures(source, run('fp16', 2))}, its "
        f"worst {worst_net(source, run('fp16', 2))}, and seed 3 {validation_figures(source, run('fp16', 3))}. "
        "Measured as networks are from `ebe727f` on (batch-norm statistics set from a random batch before folding, "
        "so activations keep unit scale; `h200/validate-fp16-calibrated-seed*.json/.png`): seed 4's networks again "
        f"{validation_figures(source, 'docs/h200/validate-fp16-calibrated-seed4.json')}, and seed 5's, new, "
        f"{validation_figures(source, 'docs/h200/validate-fp16-calibrated-seed5.json')}. "
        + fp32_validation(source, shipped32, steps32)
        + " `benchmarks/layer_breakdown.py` on the four seed-0 fp16 nets a first "
        f"run under-predicted most (`h200/breakdown-seed0.json`): ops timed alone sum to within {breakdown_gap(source, ['docs/h200/breakdown-seed0.json'])} "
        "of end to end, so what is left is single ops' prediction. The design card as typed (`h200/card-fp32.txt`): "
        f"`designer profile --gpu h200` chose torch, fp32 and batch 256, and `designer solve --target-throughput 8000` "
        f"used {chosen_profile}, the profile most recently built, predicting {predicted} img/s."
    )


def fp32_validation(source: Source, shipped: list[str], steps: list[dict[str, Any]]) -> str:
    """The H200 fp32 table's validation: each seed with the shipped table, and what is left."""
    run = "docs/h200/runs/validate-fp32-seed{}.json".format
    table = source.json("profiles/h200-torch-fp32-b256.json")
    entries = [dict(zip(table["columns"], row)) for row in table["entries"]]
    dw = {
        e["cin"]: e["ms"]
        for e in entries
        if (e["kind"], e["res"], e["kernel"], e["stride"]) == ("dwconv_act", 112, 3, 2) and e["cin"] in (640, 768)
    }
    seeds = "; ".join(f"`--seed {seed}` {validation_figures(source, path)}" for seed, path in enumerate(shipped))
    left = sorted(
        (
            (abs(n["predicted_ms"] / n["measured_ms"] - 1), f"{n['name']} (seed {seed})")
            for seed, path in enumerate(shipped)
            for n in source.json(path)["networks"]
        ),
        reverse=True,
    )
    over = [name for error, name in left if error > 0.08]
    table_wide = sum(1 for e in entries if max(e["cin"], e["cout"]) > 2048)
    return (
        f"fp32 (sparse grid, {len(table['entries']):,} ops), the shipped table's predictions "
        "(`h200/validate-fp32*.json/.png`): "
        f"{seeds}; over 8 %: {', '.join(over) or 'none'}. How the table got there, seed by seed (each measured "
        "once, `h200/runs/`): seeds 0 and 1, measured with earlier tables, showed that fp32 5x5 latency is erratic "
        f"past the sparse grid's work cap (`h200/steps-fp32-wide.json`, at 7 px: {neighbour_swing(steps, 5)}; "
        f"seed 1's worst net had {breakdown_op(source, 'docs/h200/breakdown-fp32-seed1.json', 'random-basic-24')}), "
        "so the lines run on to 1,024 channels at the last stage and the full work cap holds at the last two "
        f"stage resolutions. Seed 2 predicted {validation_figures(source, run(2))} as measured: its worst net has a "
        "depthwise conv at 112 px whose input holds over 2^31 elements "
        f"({breakdown_op(source, 'docs/h200/breakdown-fp32-seed2.json', 'random-mbv2-02')}, "
        "`h200/breakdown-fp32-seed2.json`), where PyTorch's depthwise kernels slow down tenfold (the table's 3x3 "
        f"stride-2 convs at 112 px: 640 channels {dw[640]:.2f} ms, 768 channels {dw[768]:.2f} ms). Every grid now "
        "times depthwise convs on both sides of that size at its batch (`latency.measure.grid.index_limit_ops`), "
        "and the predictor prices those past it from their own entries (`latency.predict.predictor.INDEX_LIMIT`). "
        f"Seed 3 ({validation_figures(source, run(3))} as measured) and the same breakdown found wide 1x1 convs "
        "priced high past the 2,048 channels the grid measured (random-mbv2-11: "
        f"{breakdown_op(source, 'docs/h200/breakdown-fp32-seed2.json', 'random-mbv2-11')}) and 5x5 convs above "
        f"the sparse cap at 56 px (random-basic-18: {breakdown_op(source, 'docs/h200/breakdown-fp32-seed2.json', 'random-basic-18')}), "
        f"so the sparse grid now samples 3,072 and 4,096 channels too ({table_wide} entries past 2,048; "
        "`latency.measure.grid.SPARSE_WIDE_CHANNELS`), keeps its lines to the dense grid's work cap, and times 3x3 "
        "lines at 7 px (`SPARSE_LAST_KERNELS`). Seed 5 then predicted "
        f"{validation_figures(source, run(5))} as measured, its worst {worst_net(source, run(5))}: a 528-channel 5x5 "
        "conv at 14 px priced from the 7 px line's jump between 512 and 528 channels, which every parallelogram "
        "that reached it crossed; the completion now interpolates such a node between the measured nodes of its "
        "own line as well (`latency.predict.completion`). Seed 6 was measured last, with the table and predictor "
        "as shipped."
    )


def h200_build(source: Source) -> str:
    """The from-scratch H200 fp16 build: its time, and how it agrees with the shipped table."""
    log = source.text("docs/h200/scratch-build-fp16.log")
    command = log_match(log, r"^\$ timeout -s INT \d+ (python -m designer\.cli profile .*) -o ").group(1)
    seconds = log_match(log, r"^build rc=0 after (\d+) s$").group(1)
    agreement = source.json("docs/h200/scratch-build-fp16.json")
    candidate, entries = agreement["candidate"], agreement["entries"]
    runs = "; ".join(
        f"seed {row['run'][-6]} {percent(row['reference']['max_abs_error'])} -> {percent(row['candidate']['max_abs_error'])}"
        for row in agreement["validations"]
    )
    return (
        f"Build time, H200: the fp16 profile from scratch in one call and a fresh process (`{command.replace('python -m designer.cli', 'designer')}`, "
        f"`h200/scratch-build-fp16.log`): {candidate['grid']['ops']:,} ops in {seconds} s of wall time, command "
        f"start to end, with {candidate['warmup']} warm-up and {candidate['repetitions']} timed replays (the "
        "default now: `benchmarks/replay_share.py`, `h200/replay-share.json`). `python benchmarks/"
        "profile_agreement.py` (`h200/scratch-build-fp16.json`) against the shipped table, on the "
        f"{entries['common_ops']:,} ops both hold: median |difference| {percent(entries['median_abs'])}, p90 "
        f"{percent(entries['p90_abs'])}, mean signed {entries['mean_signed']:+.2%}; the {count_word(len(agreement['validations']))} fp16 validation runs "
        f"re-predicted with each (worst error, shipped -> rebuilt): {runs}. The shipped table stays the one "
        "validated above (seed 4 was measured after this comparison was first made, and agrees with it); the "
        "rebuild's 5x5 lines beyond 512 channels at 7 px were not merged into it, since they did not improve "
        "those runs."
    )


def build_seconds(profile: dict[str, Any]) -> list[int]:
    """Seconds of each call that built a shipped profile (its provenance's ``builds``)."""
    return [round(build["seconds"]) for build in profile["provenance"]["builds"]]


def build_calls(profile: dict[str, Any]) -> str:
    """``"284 + 282 + 8 s of H100 time in three calls"``."""
    seconds = build_seconds(profile)
    calls = count_word(len(seconds)) + (" calls" if len(seconds) > 1 else " call")
    return f"{' + '.join(map(str, seconds))} s of {profile['gpu'].upper()} time in {calls}"


def phase_totals(rows: list[dict[str, Any]]) -> tuple[float, float]:
    """Seconds of autotuning and of all phases together, over a ``profile_cost.py`` limit's rows."""
    phases = ("setup_s", "autotune_s", "capture_s", "replays_s")
    return sum(row["autotune_s"] for row in rows), sum(row[phase] for row in rows for phase in phases)


def autotune_limits(cost: dict[str, Any]) -> str:
    """What lower cuDNN benchmark limits save in autotuning and cost in latency (against the first)."""
    limits = list(cost["limits"])
    first = cost["limits"][limits[0]]["rows"]
    others = [cost["limits"][limit]["rows"] for limit in limits[1:]]
    speedups = [phase_totals(first)[0] / phase_totals(rows)[0] for rows in others]
    ratios = [[b["ms"] / a["ms"] for a, b in zip(first, rows)] for rows in others]
    p90 = [statistics.quantiles([abs(r - 1) for r in ratio], n=10, method="inclusive")[-1] for ratio in ratios]
    return (
        f"Trying fewer algorithms (`cudnn.benchmark_limit` {' or '.join(limits[1:])} instead of PyTorch's "
        f"{limits[0]}) cuts autotuning {span(speedups, '.0f')}x but picks slower algorithms (p90 latency change "
        f"{percent_span(p90, 0)}, the worst op {max(max(r) for r in ratios):.1f}x as slow), so the table would not "
        f"match how PyTorch runs the network; it stays at {limits[0]}."
    )


def build_time(source: Source) -> str:
    fp16, fp32 = (source.json(f"profiles/h100-torch-{p}-b256.json") for p in ("fp16", "fp32"))
    cost = {p: source.json(f"docs/h100/profile-cost-{p}.json") for p in ("fp32", "fp16")}
    totals = {p: phase_totals(next(iter(data["limits"].values()))["rows"]) for p, data in cost.items()}
    shares = {
        p: (f"{100 * tune / total:.0f} %", f"({tune:.1f} of {total:.1f} s)") for p, (tune, total) in totals.items()
    }
    ratio = totals["fp32"][1] / totals["fp16"][1]
    dense_fp16 = sum(build_seconds(fp16))
    sampled = len(next(iter(cost["fp32"]["limits"].values()))["rows"])
    command = (
        f"designer profile --gpu {fp32['gpu']} --backend {fp32['backend']} --precision {fp32['precision']} "
        f"--batch {fp32['batch']}"
    )
    return (
        f"Build time, H100: the fp16 table (dense grid, {fp16['provenance']['grid']['ops']:,} ops) took "
        f"{build_calls(fp16)}, resumed as the grid grew; the fp32 table (sparse grid, "
        f"{fp32['provenance']['grid']['ops']:,} ops) took {build_calls(fp32)}, from scratch (`{command}`). Why "
        "fp32 needs the sparse grid: `python benchmarks/profile_cost.py OUT --precision fp32` "
        f"(`h100/profile-cost-fp32.json`, `-fp16.json`; {sampled} ops stratified by latency, phase by phase): "
        "cuDNN's autotuning is "
        f"{' of the time in fp32 '.join(shares['fp32'])} and {' in fp16 '.join(shares['fp16'])}; the same ops "
        f"take {ratio:.1f}x as long to profile in fp32 as in fp16, so the dense grid ({dense_fp16} s in fp16) would "
        f"take about {dense_fp16 * ratio / 60:.0f} minutes in fp32. " + autotune_limits(cost["fp32"])
    )


def section_latency_tables(source: Source) -> str:
    bullets = (
        v100_accuracy(source),
        h100_validation(source),
        build_time(source),
        h200_validation(source),
        h200_build(source),
    )
    return "## Latency tables (`designer profile`)\n\n" + "\n".join(bullet(text) for text in bullets)


# --- throughput-constrained design --------------------------------------------------------------


def target_row(data: dict[str, Any]) -> list[str]:
    open_loop, closed_loop, match = data["open_loop"], data["closed_loop"], data["match"]
    errors = [abs(row["error"]) for row in open_loop]
    return [
        data["profile"].rsplit("-", 1)[1],
        f"{sum(e <= OPEN_LOOP_BAND for e in errors)} / {len(errors)}",
        percent(statistics.median(errors)),
        f"{sum(row['in_band'] for row in closed_loop)} / {len(closed_loop)}",
        f"{match['design_measured']:,.0f} vs {match['reference_measured']:,.0f} img/s ({match['ratio']:.3f})",
        f"{match['design_entropy']:,.0f} vs {match['reference_entropy']:,.0f}",
    ]


def v100_design(source: Source) -> str:
    data = source.json("docs/v100-solve.json")
    first, again = (next(r for r in data["rows"] if r["run"].startswith(run)) for run in ("first", "again"))
    args = flags(first["args"])
    case = f"{args['family']}:{args['target-throughput']}:{args['profile']}"
    return (
        "With the imported V100 tables (`designer profile import-tinynas ../shared/data/tinynas-v100/conv_data.out "
        f"--gpu v100 --precision fp32`), `designer solve {first['args']}` gives a {args['family']} design of "
        f"{first['params'] / 1e6:.0f} M params and {first['flops'] / 1e9:.1f} G FLOPs predicted at "
        f"{first['predicted_throughput']:,.0f} img/s on the V100 (batch {table_batch(first['profile'])} table), in "
        f"{first['wall_seconds']:.1f} s wall on the {data['machine']['cpus']}-core VM the first time (the "
        f"predictor's fit is then cached) and {again['wall_seconds']:.1f} s after ({again['solve_seconds']:.1f} s "
        f"of it solving): `python benchmarks/solve_times.py docs/v100-solve.json --no-budgets --throughput {case}`."
    )


H200_TARGETS = [
    ("docs/h200/targets-fp16.json", "--time-limit 5"),
    ("docs/h200/targets-fp16-mbv2.json", "--family mbv2 --time-limit 10"),
]
"""The ten-target closed loops on the H200 and the options of their commands."""


def h200_targets(source: Source) -> str:
    """The ten-target closed loops on the H200 (:data:`H200_TARGETS`)."""
    runs = []
    for path, options in H200_TARGETS:
        data = source.json(path)
        closed, errors = data["closed_loop"], [row["error"] for row in data["open_loop"]]
        rounds = [len(row["rounds"]) for row in closed]
        ratios = [row["measured"] / row["target"] for row in closed]
        spent = f"{min(rounds)}" if min(rounds) == max(rounds) else f"{min(rounds)} to {max(rounds)}"
        runs.append(
            f"`python benchmarks/throughput_targets.py --profile {data['profile']} {options} --match none` "
            f"(`{path.removeprefix('docs/')}`, `.png`), {data['family']}, {len(closed)} targets from "
            f"{closed[0]['target']:,.0f} to {closed[-1]['target']:,.0f} img/s: open loop "
            f"{sum(abs(e) <= OPEN_LOOP_BAND for e in errors)} / {len(errors)} within {percent(OPEN_LOOP_BAND, 0)} "
            f"(median {percent(statistics.median(abs(e) for e in errors))}, predictions "
            f"{sum(e > 0 for e in errors)} / {len(errors)} above the measured throughput); `--verify` "
            f"{sum(row['in_band'] for row in closed)} / {len(closed)} in [T, {1 + OPEN_LOOP_BAND:g} T] (measured / "
            f"target {min(ratios):.3f} to {max(ratios):.3f}) after {spent} rounds, {sum(rounds)} in all, "
            f"{sum(row['in_band'] and count == 1 for row, count in zip(closed, rounds))} / {len(closed)} after the first"
        )
    return (
        "On the lent H200, whole design space, the shipped table and the predictor as shipped: " + "; ".join(runs) + "."
    )


def section_throughput_targets(source: Source) -> str:
    runs = [source.json(f"docs/h100/targets-{p}.json") for p in ("fp16", "fp32")]
    shares = [[row["target"] / data["highest_reachable_predicted"] for row in data["open_loop"]] for data in runs]
    intro = (
        "`python benchmarks/throughput_targets.py --profile h100-torch-PREC --out ...` (`h100/targets-*.json/.png`), "
        f"{span([len(s) for s in shares], 'd')} targets from {percent_span([s[0] for s in shares], 0)} to "
        f"{percent_span([s[-1] for s in shares], 0)} of the highest reachable throughput, "
        f"{span([d['family'] for d in runs], 's')} family:"
    )
    header = [
        "profile",
        f"open loop: prediction within {percent(OPEN_LOOP_BAND, 0)}",
        "median error",
        f"`--verify` in [T, {1 + OPEN_LOOP_BAND:g} T]",
        f"`--match {runs[0]['match']['reference']}` measured",
        "entropy",
    ]
    return "\n\n".join(
        [
            "## Throughput-constrained design (`designer solve --target-throughput`)",
            paragraph(intro),
            table(header, [target_row(data) for data in runs]),
            paragraph(v100_design(source)),
            paragraph(h200_targets(source)),
        ]
    )


# --- training -----------------------------------------------------------------------------------


def train_throughput(source: Source) -> str:
    def at_largest_batch(path: str) -> str:
        results = {row["amp"]: row for row in source.json(path)["results"]}
        batch = span([row["largest"]["batch"] for row in results.values()], ",d")
        fp16, bf16 = (results[amp]["largest"]["images_per_s"] for amp in ("fp16", "bf16"))
        return f"at batch {batch}: {fp16:,.0f} img/s fp16 AMP, {bf16:,.0f} img/s bf16"

    design = source.json("docs/train/train_throughput_deepmad_r50.json")["results"][0]
    return (
        "Training throughput at the largest batch that fits (`python benchmarks/train_throughput.py ARCH --out ...`, "
        "channels_last, synthetic data; `train/train_throughput_*.json`): ResNet-50 "
        f"{at_largest_batch('docs/train/train_throughput_resnet50.json')}; the R50-size DeepMAD bottleneck design "
        f"(`train/r50_deepmad.json`, {design['params'] / 1e6:.1f} M params, {design['flops'] / 1e9:.2f} G FLOPs) "
        f"{at_largest_batch('docs/train/train_throughput_deepmad_r50.json')}. The design is deeper and thinner, "
        "so it holds more activations per image."
    )


def fashion_mnist(source: Source) -> str:
    single = source.jsonl("docs/train/fmnist-1gpu/metrics.jsonl")[-1]
    ddp = source.jsonl("docs/train/fmnist-ddp/ddp-metrics.jsonl")[-1]
    config = source.json("docs/train/fmnist-1gpu/config.json")
    log = source.text("docs/train/fmnist-ddp/ddp-log.txt")
    single_log = source.text("docs/train/fmnist-1gpu/log.txt")
    params, pixels = log_match(log, r"^network: \S+ \((\S+) params, (\d+) px\)$").groups()
    processes = log_match(log, r"^(\d+ process\(es\): [^;]*);").group(1)
    seconds = log_match(log, r"^training took (\d+) s$").group(1)
    single_seconds = log_match(single_log, r"^training took (\d+) s$").group(1)
    return (
        "Fashion-MNIST (`../shared/data/`; published simple CNNs reach about 90-93 %), `bash "
        f"benchmarks/train_fashion_mnist.sh DATA OUT [PROCESSES]`, {config['epochs']} epochs, "
        f"{spaced_unit(params)}-parameter design at {pixels} px (top-1 after the last epoch): one process on one "
        f"H200 {percent(single['val_top1'])} (`train/fmnist-1gpu/`, with the GPU input pipeline, {single_seconds} s "
        f"of training); earlier, before that pipeline, on an H200 pair, {count_word(len(ddp['rank_images']))} "
        f"processes under torchrun {percent(ddp['val_top1'])} (`train/fmnist-ddp/ddp-log.txt` shows `{processes}`, "
        f"{seconds} s of training)."
    )


def input_pipeline(source: Source) -> str:
    data = source.json("docs/h200/input_pipeline.json")
    stages, settings = data["stages"], data["settings"]
    resident, gpu, pillow = stages["device_resident"], stages["train_gpu"], stages["train_pillow"]
    loader = stages["loader_gpu"]
    return (
        "Input pipeline (`python3 -m benchmarks.input_pipeline --out OUT/input_pipeline.json`, `h200/input_pipeline.json` and `.log`), "
        f"{data['environment']['gpu']} with {data['environment']['cpu_count']} CPU cores, "
        f"{stages['data']['files']:,} JPEGs of {stages['data']['size']} (~{stages['data']['mean_kb']:.0f} KB), "
        f"`{settings['arch']}`, batch {settings['batch']}, {settings['amp']}, {settings['workers']} workers: "
        f"training from the folder with nvJPEG decoding {gpu['images_per_s']:,.0f} img/s against "
        f"{resident['images_per_s']:,.0f} device-resident in the same run "
        f"({percent(gpu['images_per_s'] / resident['images_per_s'], 1)}); Pillow decoding "
        f"{pillow['images_per_s']:,.0f}; the loader alone {loader['images_per_s']:,.0f} img/s "
        f"({loader['images_per_s'] / gpu['images_per_s']:.1f}x the training rate, {loader['cores_busy']:.1f} cores busy)."
    )


def section_training(source: Source) -> str:
    bullets = (train_throughput(source), input_pipeline(source), fashion_mnist(source))
    return "## Training (`designer train`)\n\n" + "\n".join(bullet(text) for text in bullets)


# --- export -------------------------------------------------------------------------------------


def section_export(source: Source) -> str:
    runs = [(source.json(path), name) for path, name in EXPORTS]
    cpu, cuda = runs[0][0]["cpu"], runs[0][0]["cuda"]
    parity = " and ".join(f"{scientific(max(p['rel'] for p in d['onnx_parity']))} ({name})" for d, name in runs)
    parity_batches = " and ".join(str(p["batch"]) for p in runs[0][0]["onnx_parity"])
    ratios = " and ".join(f"{d['cpu']['ratio_onnxruntime_vs_torch_eager']:.2f}x" for d, _ in runs)
    gpu = " and ".join(f"{d['cuda']['images_per_s']:,.0f} img/s ({name})" for d, name in runs)
    dtype = {"float16": "fp16"}.get(cuda["dtype"], cuda["dtype"])
    text = (
        f"`python benchmarks/export_throughput.py OUT --model M --batch {cpu['batch']} --threads {cpu['threads']}` "
        f"on the {cuda['device']} machine (`export/`): ONNX parity max relative error {parity} at batches "
        f"{parity_batches}; onnxruntime CPU / PyTorch eager CPU throughput {ratios} ({cpu['threads']} threads); "
        f"PyTorch CUDA-graph {dtype} {cuda['memory_format']} reference at batch {cuda['batch']}: {gpu}."
    )
    return "## Export (`designer export`)\n\n" + paragraph(text)


# --- tuning -------------------------------------------------------------------------------------


def section_tuning(source: Source) -> str:
    trials = source.csv("docs/tune/trials.csv")
    script = source.text("benchmarks/tune_fashion_mnist.sh")
    arch = source.json("docs/tune/best_arch.json")
    completed = [t for t in trials if t["state"] == "complete"]
    accuracies = [float(t["accuracy"]) for t in completed]
    low = [t for t in trials if t["state"] == "pruned" and t["accuracy"] and float(t["accuracy"]) < min(accuracies)]
    widths, most = Counter(t["widths"] for t in trials if t["widths"]).most_common(1)[0]
    best = max((t for t in completed if t["feasible"] == "True"), key=lambda t: float(t["accuracy"]))
    rho_low, rho_high = script_flag(script, "rho-range")
    text = (
        f"Study `{script_flag(script, 'study')[0]}` on the H100 (`tune/`; `bash benchmarks/tune_fashion_mnist.sh DATA "
        f"OUT` runs the same settings, as stored in the study): {len(trials)} trials of rho0 (log-uniform "
        f"{rho_low}–{rho_high}) for a {arch['stages'][0]['block']}-block design at {arch['resolution']} px on "
        f"Fashion-MNIST, target {int(script_flag(script, 'target-throughput')[0]):,} img/s (measured on the GPU), "
        "short proxy training with pruning. `tune/accuracy_vs_rho.png`: accuracy is flat "
        f"({percent_span(accuracies, 1)} top-1) over every completed trial, rho0 "
        f"{span([float(t['rho0']) for t in completed], '.2f').replace('–', ' to ')} — at this small target the "
        f"throughput constraint, not rho0, decides the design (widths {widths} in {most} of {len(trials)} trials), "
        f"so rho0 hardly matters here; the {count_word(len(low))} low points are pruned trials at the epoch they "
        f"were stopped. Best: trial {best['trial']}, rho0 {float(best['rho0']):.3f}, "
        f"{percent(float(best['accuracy']))}, measured {float(best['measured']):,.0f} img/s."
    )
    return "## Tuning (`designer tune`)\n\n" + paragraph(text)


SECTIONS: tuple[Callable[[Source], str], ...] = (
    section_header,
    section_solver,
    section_published,
    section_latency_tables,
    section_throughput_targets,
    section_training,
    section_export,
    section_tuning,
)
"""The report's sections, in order."""


def render(root: Path = ROOT) -> str:
    """The whole report, computed from the committed files under ``root``."""
    source = Source(root)
    return "\n\n".join(section(source) for section in SECTIONS) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {REPORT} differs from the files")
    args = parser.parse_args(argv)
    report, path = render(), ROOT / REPORT
    if args.check:
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        print(f"{REPORT} is up to date" if current == report else f"{REPORT} is out of date: run {__file__}")
        return 0 if current == report else 1
    path.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
