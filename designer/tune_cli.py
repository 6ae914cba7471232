"""``designer tune``: the Optuna study over rho0 (and alpha_last, beta) on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.spec import ArchSpec

if TYPE_CHECKING:
    from designer.tune import Report


def register(subparsers: Any) -> None:
    from designer.commands import add_design_arguments

    parser = subparsers.add_parser(
        "tune", help="tune rho0 with Optuna against measured throughput and proxy accuracy (resumable)"
    )
    add_design_arguments(parser)
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


class LocalRunner:
    """Measures with the profile's backend here and proxy-trains with ``designer train``'s engine."""

    def __init__(self, args: argparse.Namespace) -> None:
        from designer.verify import Measurer

        self.args = args
        self.measurer = Measurer(args.profile)

    def measure(self, spec: ArchSpec) -> float:
        return self.measurer.throughput(spec)

    def train(self, spec: ArchSpec, trial_dir: Path, report: Report) -> float:
        from train.loop import train
        from train.recipe import TrainConfig

        args = self.args
        arch = trial_dir / "arch.json"
        spec.save(arch)
        config = TrainConfig(
            arch=str(arch),
            data=args.data,
            out=str(trial_dir / "run"),
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            warmup_epochs=min(1.0, args.epochs / 3),
            weight_decay=5e-4,
            policy="none",
            crop_scale=(0.6, 1.0),
            mixup=0.0,
            cutmix=0.0,
            seed=args.seed,
            workers=args.workers,
            progress=False,
        )
        result = train(config, on_epoch=lambda record: report(record["epoch"] - 1, record["val_top1"]))
        return float(result.history[-1]["val_top1"])


def run_tune(args: argparse.Namespace) -> int:
    from designer.commands import design_request
    from designer.tune import TuneConfig, tune
    from designer.tune_report import best_trials, format_table, trial_rows, write_outputs

    request = design_request(args)
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
    runner = LocalRunner(args)
    study = tune(config, runner, runner.measurer.predictor())
    print(format_table(trial_rows(study)))
    paths = write_outputs(study, args.out, float(request.target_throughput))
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
