"""Throughput-constrained design on the real GPU: open loop, closed loop (--verify) and --match.

On a machine with the profile's GPU, for 10 targets spread geometrically over the profile's
reachable range (from the highest reachable throughput down by ``--span``):

* closed loop: ``designer.workflows.verify`` rounds until the measured throughput is in
  ``[target, 1.05 * target]``; its design is the one the loop gives (:func:`~designer.workflows.verify.final_round`:
  the last round's, or when none is in the band the best that meets the target);
* open loop: its first round, solved against the profile as shipped (asked for ``AIM x target``,
  1.02 x; the runs committed before the H200 runs of 2026-12-04 21:09 UTC asked for the target), built and
  measured; the prediction error is ``predicted / measured - 1``;
* match (unless ``--match none``): target ResNet-50's measured throughput, verify, compare entropies.

Every solve stops at ``--time-limit`` seconds with the best design found (the whole design
space is rarely proven optimal that fast; the throughput is what this measures).

Results go to ``--out`` (JSON, rewritten after every target); run the same command again to resume
a run cut short (the targets it finished are kept and skipped). At the end, the measured / target
ratio of every open- and closed-loop design is plotted next to it (``--out`` with ``.png``);
``--plot-only`` draws that plot from the results already in ``--out``, on any machine.

    python benchmarks/throughput_targets.py --profile h100-torch-fp16 --out fp16_targets.json
    python benchmarks/throughput_targets.py --out fp16_targets.json --plot-only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.analysis import analyze_spec
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_bytes, atomic_write_text
from designer.core.parse import read_json
from designer.core.reference import reference_spec
from designer.core.request import DesignRequest
from designer.core.solver import cheapest
from designer.core.space import SearchSpace
from designer.core.throughput import throughput_constraint
from designer.plots import png, subplots
from designer.workflows.verify import BAND, ProfileMeasurer, final_round, in_band, verify


def main() -> None:
    parser = Parser(description=__doc__.split("\n\n")[0])
    run = parser.add_mutually_exclusive_group(required=True)
    run.add_argument("--profile", help="the latency profile to design with")
    run.add_argument("--plot-only", action="store_true", help="only draw the plot of the results in --out")
    parser.add_argument("--family", default="bottleneck")
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--span", type=float, default=20.0, help="lowest target = highest reachable / span")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--match", default="resnet50", help="a reference network, or none")
    parser.add_argument("--time-limit", type=float, default=10.0, help="solver time limit per solve (s)")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.plot_only:
        print(f"wrote {plot(read_json(args.out, 'throughput-targets results'), args.out)}")
        return
    # the closed loop extends the profile: keep those additions out of the shipped folder
    os.environ.setdefault("DESIGNER_PROFILE_DIR", tempfile.mkdtemp(prefix="profiles-"))

    measurer = ProfileMeasurer(args.profile)
    shipped = measurer.predictor()
    request = DesignRequest(
        family=args.family,
        profile=args.profile,
        resolution=args.resolution,
        num_classes=args.classes,
        time_limit=args.time_limit,
    )
    results = earlier_run(args)
    if results is None:
        space = SearchSpace(request)
        # the fastest design found within the time limit (not always proven the fastest): reachable
        least = cheapest(space, throughput_constraint(shipped, 1.0), [], request.rho0, args.time_limit).value
        if least is None:
            raise DesignerError(f"no {args.family} design meets rho <= {request.rho0:g}; nothing to target")
        fastest = 1000.0 * shipped.batch / least
        results = {
            "profile": args.profile,
            "family": args.family,
            "device": measurer.backend.device_name(),
            "measured_on": measurer.provenance(),
            "highest_reachable_predicted": fastest,
            "targets": [float(t) for t in np.geomspace(fastest / args.span, fastest / 1.25, args.targets)],
            "open_loop": [],
            "closed_loop": [],
            "match": None,
        }
    targets = results["targets"]
    done = {row["target"] for row in results["closed_loop"]}

    def save() -> None:
        atomic_write_text(args.out, json.dumps(results, indent=2) + "\n")

    print(
        f"highest reachable (predicted) {results['highest_reachable_predicted']:,.0f} images/s; targets "
        f"{', '.join(f'{t:,.0f}' for t in targets)}" + (f"; {len(done)} done earlier, resumed" if done else "")
    )
    for target in targets:
        if target in done:
            continue
        start = time.perf_counter()
        history = verify(replace(request, target_throughput=float(target)), measurer, args.rounds)
        first, given = history[0], final_round(history, float(target))
        results["open_loop"].append(
            {
                "target": float(target),
                "predicted": first.predicted,
                "measured": first.measured,
                "error": first.predicted / first.measured - 1,
                "solve_seconds": first.design.solve_seconds,
                "proven_optimal": first.design.proven,
                "arch": first.design.spec.to_dict(),
            }
        )
        print(
            f"open   target {target:9,.0f}  predicted {first.predicted:9,.0f}  measured {first.measured:9,.0f}  "
            f"error {first.predicted / first.measured - 1:+.2%}"
        )
        row = {
            "target": float(target),
            "measured": given.measured,
            "in_band": in_band(history, float(target)),
            "round": given.number,
            "rounds": [entry.summary() for entry in history],
            "seconds": time.perf_counter() - start,
            "arch": given.design.spec.to_dict(),
        }
        results["closed_loop"].append(row)
        save()
        verdict = "in band" if row["in_band"] else "meets target" if given.measured >= target else "MISSED"
        print(
            f"verify target {target:9,.0f}  measured {given.measured:9,.0f}  ratio {given.measured / target:.3f}  "
            f"round {given.number} of {len(history)}  {verdict}"
        )
    if args.match != "none" and results["match"] is None:
        match(args, request, measurer, results)
        save()
    open_errors = [abs(r["error"]) for r in results["open_loop"]]
    print(
        f"open loop: {sum(e <= 0.05 for e in open_errors)}/{len(open_errors)} within 5% "
        f"(median |error| {np.median(open_errors):.2%}); closed loop: "
        f"{sum(r['in_band'] for r in results['closed_loop'])}/{len(results['closed_loop'])} in "
        f"[target, {BAND} x target], {sum(r['measured'] >= r['target'] for r in results['closed_loop'])} at or above "
        "the target"
    )
    try:
        print(f"wrote {plot(results, args.out)}")
    except ImportError:
        print(f"matplotlib does not import here: draw the plot elsewhere with --out {args.out} --plot-only")


def plot(results: dict[str, Any], out: Path) -> Path:
    """Measured / target of each target's open-loop (first) and closed-loop (given) design, with
    the band ``--verify`` aims for, written next to ``out`` as a PNG."""
    if not isinstance(results, dict) or not results.get("closed_loop"):
        raise DesignerError(f"{out} holds no finished target to plot; run the benchmark first")
    from matplotlib.ticker import FuncFormatter, LogLocator

    targets = [row["target"] for row in results["closed_loop"]]
    figure, axis = subplots(figsize=(6, 4), dpi=120)
    axis.axhspan(1.0, BAND, color="grey", alpha=0.2, label=f"[target, {BAND} x target]")
    axis.axhline(1.0, color="black", linewidth=1)
    for rows, label, fill in (
        (results["open_loop"], "open loop (first round, solved to the profile as given)", "none"),
        (results["closed_loop"], "closed loop (--verify)", "C1"),
    ):
        ratios = [row["measured"] / row["target"] for row in rows]
        axis.scatter([row["target"] for row in rows], ratios, s=28, facecolors=fill, edgecolors="C1", label=label)
    axis.set(
        xscale="log",
        xlabel="target images/s",
        ylabel="measured / target",
        xlim=(min(targets) / 1.3, max(targets) * 1.3),
    )
    thousands = FuncFormatter(lambda value, _: f"{value:,.0f}")
    axis.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    axis.xaxis.set_major_formatter(thousands)
    axis.xaxis.set_minor_formatter(thousands)
    axis.set_title(f"{results['profile']} on {results['device']}: {len(targets)} targets", fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path = out.with_suffix(".png")
    atomic_write_bytes(path, png(figure))
    return path


def earlier_run(args: argparse.Namespace) -> dict[str, Any] | None:
    """The results of an interrupted run of the same profile and family in ``--out``, to resume
    (its targets kept, the targets it finished skipped); None when there is none."""
    if not args.out.exists():
        return None
    results = read_json(args.out, "throughput-targets results")
    if not isinstance(results, dict) or "targets" not in results:
        raise DesignerError(f"{args.out} is not this benchmark's results; give another --out to start a new run")
    if (results.get("profile"), results.get("family")) != (args.profile, args.family):
        raise DesignerError(
            f"{args.out} holds another run (profile {results.get('profile')}, family {results.get('family')}); "
            "give another --out to start a new one"
        )
    return results


def match(args: argparse.Namespace, request: DesignRequest, measurer: ProfileMeasurer, results: dict[str, Any]) -> None:
    """Verify a design at the reference network's measured throughput and compare the two."""
    reference = reference_spec(args.match, request.resolution, request.num_classes)
    reference_speed = measurer.throughput(reference)
    history = verify(replace(request, target_throughput=reference_speed), measurer, args.rounds)
    given = final_round(history, reference_speed)
    ours = given.design
    theirs = analyze_spec(reference, request.weights, request.penalty)
    results["match"] = {
        "reference": args.match,
        "reference_measured": reference_speed,
        "design_measured": given.measured,
        "ratio": given.measured / reference_speed,
        "reference_entropy": theirs.report.entropy,
        "design_entropy": ours.analysis.report.entropy,
        "reference_params": theirs.params,
        "design_params": ours.analysis.params,
        "reference_flops": theirs.flops,
        "design_flops": ours.analysis.flops,
        "reference_rho": theirs.report.rho,
        "design_rho": ours.analysis.report.rho,
        "rounds": len(history),
        "arch": ours.spec.to_dict(),
    }
    m = results["match"]
    print(
        f"match {args.match}: {m['reference_measured']:,.0f} vs design {m['design_measured']:,.0f} images/s "
        f"(ratio {m['ratio']:.3f}); entropy {m['reference_entropy']:,.0f} vs {m['design_entropy']:,.0f}; "
        f"params {m['reference_params'] / 1e6:.1f}M vs {m['design_params'] / 1e6:.1f}M; "
        f"FLOPs {m['reference_flops'] / 1e9:.2f}G vs {m['design_flops'] / 1e9:.2f}G"
    )


if __name__ == "__main__":
    sys.exit(run_guarded(main))
