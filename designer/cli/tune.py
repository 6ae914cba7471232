"""``designer tune``: the Optuna study over rho0 (and alpha_last, beta), one worker or many."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from designer.cli.args import add_parameters, checked
from designer.core.errors import DesignerError, ParameterError
from designer.core.request import DesignRequest
from designer.workflows.tune_workers import parse_gpus


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tune", help="tune rho0 with Optuna against measured throughput and proxy accuracy (resumable)"
    )
    add_parameters(parser, DesignRequest)
    parser.add_argument("--data", required=True, help="data set for the proxy training (as for designer train)")
    parser.add_argument(
        "--trials",
        type=int,
        default=20,
        help="the study's total of finished (complete or pruned) trials, over all its workers",
    )
    parser.add_argument("--study", default="designer-tune", help="study name in --storage")
    parser.add_argument(
        "--storage",
        default="sqlite:///tune.db",
        help="the study's database: any SQLAlchemy URL (sqlite:///tune.db, postgresql://user:pw@host/db); "
        "every worker of the study gives the same one, and a rerun continues it",
    )
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
    workers = parser.add_argument_group("many workers (one per GPU; on several machines, a shared --storage)")
    workers.add_argument(
        "--gpus", type=checked(parse_gpus), metavar="I,J,...", help="start one worker per GPU here, then report"
    )
    workers.add_argument(
        "--as-worker", action="store_true", help="run trials only, as one of the study's workers (no report)"
    )
    workers.add_argument("--heartbeat", type=int, default=20, help="seconds between a trial's heartbeats")
    workers.add_argument(
        "--grace", type=int, default=120, help="seconds without a heartbeat before a trial is run again elsewhere"
    )
    parser.set_defaults(handler=run_tune)


def _without_gpus(argv: list[str]) -> list[str]:
    """The command line without its ``--gpus`` option (each worker is started without it)."""
    kept: list[str] = []
    skip = False
    for token in argv:
        name = token.split("=", 1)[0]
        if skip:
            skip = False
        elif len(name) >= 4 and "--gpus".startswith(name):
            skip = "=" not in token
        else:
            kept.append(token)
    return kept


def run_tune(args: argparse.Namespace) -> int:
    from designer.cli.solve import design_request, with_profile
    from designer.workflows.tune import LocalRunner, TuneConfig, open_study, proxy_recipe, tune
    from designer.workflows.tune_report import best_trials, format_table, trial_rows, write_outputs
    from designer.workflows.tune_workers import run_workers

    request = design_request(args)
    request, _ = with_profile(request, request.target_throughput is not None, json_output=False)
    if args.gpus and args.as_worker:
        raise ParameterError("give {gpus} (workers started here) or {as_worker} (this process is one), not both")
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
        heartbeat=args.heartbeat,
        grace=args.grace,
        worker=args.as_worker,
    )
    open_study(config)  # a bad storage or study: one error now, before any work (and not one per worker)
    if args.gpus:
        base = [sys.executable, "-m", "designer.cli", *_without_gpus(args.argv)]
        code = run_workers([[*base, "--as-worker"]] * len(args.gpus), args.gpus)
        if code:
            raise DesignerError(f"a worker exited with status {code} (its error is above); rerun to continue the study")
        study = open_study(config)
    else:
        recipe = proxy_recipe(args.data, args.epochs, args.batch_size, args.lr, args.workers, args.seed)
        runner = LocalRunner(str(request.profile), recipe)
        study = tune(config, runner, runner.measurer.predictor())
    if args.as_worker:
        return 0
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
