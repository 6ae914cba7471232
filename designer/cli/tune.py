"""``designer tune``: the Optuna study over rho0 (and alpha_last, beta) on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from designer.cli.args import add_parameters
from designer.core.request import DesignRequest


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tune", help="tune rho0 with Optuna against measured throughput and proxy accuracy (resumable)"
    )
    add_parameters(parser, DesignRequest)
    parser.add_argument("--data", required=True, help="data set for the proxy training (as for designer train)")
    parser.add_argument("--trials", type=int, default=20, help="finished trials the study should reach")
    parser.add_argument("--study", default="designer-tune", help="study name in --storage")
    parser.add_argument("--storage", default="sqlite:///tune.db", help="Optuna storage URL; a rerun continues")
    parser.add_argument("--out", type=Path, default=Path("tune"), help="folder for arch JSONs, tables, plots, runs")
    parser.add_argument("--rho-range", type=float, nargs=2, default=(0.1, 2.0), metavar=("LOW", "HIGH"))
    parser.add_argument("--alpha-last-range", type=float, nargs=2, metavar=("LOW", "HIGH"), help="also tune alpha_last")
    parser.add_argument("--beta-range", type=float, nargs=2, metavar=("LOW", "HIGH"), help="also tune beta (log)")
    parser.add_argument("--multi-objective", action="store_true", help="Pareto front of accuracy vs throughput")
    parser.add_argument("--epochs", type=int, default=3, help="proxy-training epochs per trial")
    parser.add_argument("--batch-size", type=int, default=256, help="proxy-training batch size")
    parser.add_argument("--lr", type=float, default=0.2, help="proxy-training peak learning rate per 256 images")
    parser.add_argument("--workers", type=int, default=4, help="data-loading processes (ImageFolder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(handler=run_tune)


def run_tune(args: argparse.Namespace) -> int:
    from designer.cli.solve import design_request, with_profile
    from designer.workflows.tune import LocalRunner, TuneConfig, proxy_recipe, tune
    from designer.workflows.tune_report import best_trials, format_table, trial_rows, write_outputs

    request = design_request(args)
    request, _ = with_profile(request, request.target_throughput is not None, json_output=False)
    config = TuneConfig(
        request=request,
        study=args.study,
        storage=args.storage,
        trials=args.trials,
        out=args.out,
        rho_range=tuple(args.rho_range),
        alpha_last_range=tuple(args.alpha_last_range) if args.alpha_last_range else None,
        beta_range=tuple(args.beta_range) if args.beta_range else None,
        multi_objective=args.multi_objective,
        seed=args.seed,
    )
    recipe = proxy_recipe(args.data, args.epochs, args.batch_size, args.lr, args.workers, args.seed)
    runner = LocalRunner(str(request.profile), recipe)
    study = tune(config, runner, runner.measurer.predictor())
    print(format_table(trial_rows(study)))
    paths = write_outputs(study, args.out, float(request.target_throughput or 0.0))
    best = best_trials(study)
    if not best:
        print("no trial met the throughput target yet; see the table above")
    for trial in best:
        print(
            f"best: trial {trial.number}  rho0 {trial.params['rho0']:.3g}  accuracy {trial.user_attrs.get('accuracy', 0):.4f}"
            f"  measured {trial.user_attrs['measured_throughput']:,.0f} images/s"
        )
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
