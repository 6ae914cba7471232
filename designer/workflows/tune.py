"""Tune the MP's rho0 (and optionally alpha_last and beta) against measured throughput with Optuna.

Each trial samples ``rho0`` on a log scale, solves the throughput-constrained MP, measures the
design's real throughput on the local device, and scores it by a short proxy training whose
per-epoch accuracy is reported to Optuna's pruner. ``measured >= target`` is an Optuna
constraint (``Trial.set_constraint``), so infeasible designs never win. A trial whose solve gives
a design already evaluated reuses that result.

The study lives in a database (:mod:`designer.workflows.tune_storage`) that any number of
workers share, on one machine or many: ``trials`` is the study's total of finished (complete
or pruned) trials, whichever workers run them (Optuna's
:class:`~optuna.study.MaxTrialsCallback`, and a trial started when the others already fill the
total gives way and is recorded as failed with the user attribute ``surplus``). A worker that
dies mid-trial stops sending heartbeats; after the grace period its trial is failed and run
again by another worker, and the workers left wait for that before they finish. A rerun
continues the study; a trial interrupted with Ctrl-C is recorded as failed.

With ``multi_objective`` the study maximises accuracy and measured throughput together and
returns the Pareto front instead of one best design.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import optuna

from designer.core.errors import DesignerError, ParameterError
from designer.core.request import DesignRequest
from designer.core.spec import ArchSpec
from designer.core.throughput import LatencyModel
from designer.workflows.design import design
from designer.workflows.tune_storage import open_storage
from designer.workflows.verify import AIM

Report = Callable[[int, float], None]
"""``report(epoch, accuracy)``: called by proxy training after every epoch."""


class TrialRunner(Protocol):
    """Measures and trains candidate designs on the local machine."""

    def measure(self, spec: ArchSpec) -> float:
        """Measured throughput (images/s) with the profile's backend on this device."""

    def train(self, spec: ArchSpec, trial_dir: Path, report: Report) -> float:
        """Proxy-train ``spec`` and return its validation accuracy (a fraction)."""


@dataclass(frozen=True)
class TuneConfig:
    request: DesignRequest
    """Family, target throughput, profile and the MP's other settings (``rho`` is tuned)."""
    study: str
    storage: str
    trials: int
    out: Path
    rho_range: tuple[float, float] = (0.1, 2.0)
    alpha_last_range: tuple[float, float] | None = None
    beta_range: tuple[float, float] | None = None
    multi_objective: bool = False
    seed: int = 0
    heartbeat: int = 20
    """Seconds between a running trial's heartbeats."""
    grace: int = 120
    """Seconds without a heartbeat after which a trial's worker counts as dead."""
    worker: bool = False
    """One of several workers: its sampler draws from fresh entropy, not ``seed`` (workers that all
    drew the same samples would repeat each other's trials)."""

    def __post_init__(self) -> None:
        if self.request.target_throughput is None:
            raise ParameterError("tuning needs {target_throughput} and {profile}")
        low, high = self.rho_range
        if not 0 < low < high:
            raise DesignerError(f"--rho-range {low:g} {high:g} must be two increasing positive numbers")
        if self.trials < 1:
            raise DesignerError(f"--trials must be at least 1, got {self.trials}")


COUNTED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
"""The trial states that count towards the study's total."""
SURPLUS = "surplus"


def open_study(config: TuneConfig) -> optuna.Study:
    """Create the study, or load it to continue where it stopped."""
    seed = None if config.worker else config.seed
    if config.multi_objective:
        sampler: optuna.samplers.BaseSampler = optuna.samplers.NSGAIISampler(seed=seed)
        directions = [optuna.study.StudyDirection.MAXIMIZE] * 2
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=4)
        directions = [optuna.study.StudyDirection.MAXIMIZE]
    storage = open_storage(config.storage, config.heartbeat, config.grace)
    try:
        study = optuna.create_study(
            study_name=config.study,
            storage=storage,
            sampler=sampler,
            directions=directions,
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
            load_if_exists=True,
        )
    except ValueError as error:
        raise DesignerError(f"cannot open study {config.study!r} in {config.storage}: {error}") from None
    if len(study.directions) != len(directions):
        kind = {1: "single-objective (accuracy)", 2: "multi-objective (accuracy and throughput)"}
        raise ParameterError(
            f"study {config.study!r} in {config.storage} is {kind.get(len(study.directions), 'another kind')}; "
            f"{'pass' if len(study.directions) == 2 else 'drop'} {{multi_objective}} to continue it, "
            "or name a new {study}"
        )
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        # a trial left running with no heartbeat (its worker died before heartbeats were on) is never
        # stale; one beat makes it stale after the grace period unless a live worker keeps beating
        storage.record_heartbeat(trial._trial_id)
    return study


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=COUNTED)


class SurplusTrial(Exception):
    """A trial started when the study's other trials already fill its total."""


class Objective:
    """One tuning trial: sample, solve, measure, train."""

    def __init__(self, config: TuneConfig, runner: TrialRunner, latency_model: LatencyModel) -> None:
        self.config, self.runner, self.latency_model = config, runner, latency_model
        self.given_way: set[int] = set()
        """Numbers of the trials this worker started beyond the total (see :meth:`surplus`)."""

    def request(self, trial: optuna.Trial) -> DesignRequest:
        request = self.config.request
        low, high = self.config.rho_range
        changes: dict[str, Any] = {"rho": trial.suggest_float("rho0", low, high, log=True)}
        if self.config.alpha_last_range is not None:
            alpha_last = trial.suggest_float("alpha_last", *self.config.alpha_last_range)
            changes["alpha"] = (*request.weights[:-1], alpha_last)
        if self.config.beta_range is not None:
            changes["beta"] = trial.suggest_float("beta", *self.config.beta_range, log=True)
        return replace(request, **changes)

    def calibration(self, trial: optuna.Trial) -> float:
        """Median predicted / measured throughput of the study's measured designs (1 before any)."""
        ratios = [
            t.user_attrs["predicted_throughput"] / t.user_attrs["measured_throughput"]
            for t in trial.study.get_trials(deepcopy=False)
            if t.user_attrs.get("measured_throughput") and t.user_attrs.get("predicted_throughput")
        ]
        return float(np.median(ratios)) if ratios else 1.0

    def surplus(self, trial: optuna.Trial) -> bool:
        """Whether the finished trials and the running ones started before ``trial`` fill the total."""
        running = optuna.trial.TrialState.RUNNING
        taken = trial.study.get_trials(deepcopy=False, states=(*COUNTED, running))
        return sum(t.state != running or t.number < trial.number for t in taken) >= self.config.trials

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        if self.surplus(trial):
            self.given_way.add(trial.number)
            trial.set_user_attr(SURPLUS, True)
            trial.study.stop()
            raise SurplusTrial(f"trial {trial.number} is beyond the study's {self.config.trials} trials")
        request = self.request(trial)
        target = float(request.target_throughput or 0.0)
        # the constraint is on measured throughput: ask the solver for the target corrected by how far
        # the profile's predictions have been from this machine's measurements so far
        asked = target * AIM * self.calibration(trial)
        trial.set_user_attr("asked_throughput", asked)
        try:
            result = design(replace(request, target_throughput=asked), latency_model=self.latency_model)
        except DesignerError as error:
            trial.set_user_attr("error", str(error))
            _set_constraint(trial, math.inf)
            raise optuna.TrialPruned(f"no design: {error}") from None
        spec = result.spec
        summary: dict[str, Any] = {
            "digest": spec.digest(),
            "arch": spec.to_dict(),
            "entropy": result.analysis.report.entropy,
            "depth": result.analysis.report.depth,
            "widths": [spec.stem.width, *(s.width for s in spec.stages)],
            "depths": [s.depth for s in spec.stages],
            "predicted_throughput": result.predicted_throughput,
        }
        for key, value in summary.items():
            trial.set_user_attr(key, value)
        earlier = self._same_design(trial, summary["digest"])
        if earlier is not None:
            measured = earlier.user_attrs["measured_throughput"]
            trial.set_user_attr("measured_throughput", measured)
            _set_constraint(trial, target - measured)
            trial.set_user_attr("reused_from", earlier.number)
            return tuple(earlier.values) if self.config.multi_objective else float(earlier.values[0])
        measured = self.runner.measure(spec)
        trial.set_user_attr("measured_throughput", measured)
        _set_constraint(trial, target - measured)
        trial_dir = self.config.out / "trials" / f"trial-{trial.number:04d}"

        def report(epoch: int, accuracy: float) -> None:
            if self.config.multi_objective:
                return
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch + 1} at accuracy {accuracy:.4f}")

        accuracy = self.runner.train(spec, trial_dir, report)
        trial.set_user_attr("accuracy", accuracy)
        return (accuracy, measured) if self.config.multi_objective else accuracy

    @staticmethod
    def _same_design(trial: optuna.Trial, digest: str) -> optuna.trial.FrozenTrial | None:
        states = (optuna.trial.TrialState.COMPLETE,)
        for earlier in trial.study.get_trials(deepcopy=False, states=states):
            if earlier.user_attrs.get("digest") == digest and "measured_throughput" in earlier.user_attrs:
                return earlier
        return None


def _set_constraint(trial: optuna.Trial, shortfall: float) -> None:
    """``target - measured`` (feasible when <= 0), for the sampler and for the reports."""
    trial.set_constraint("throughput", shortfall)
    trial.set_user_attr("constraint", (shortfall,))


def tune(config: TuneConfig, runner: TrialRunner, latency_model: LatencyModel) -> optuna.Study:
    """Run trials until the study has ``config.trials`` finished ones, whichever workers run them."""
    study = open_study(config)
    objective = Objective(config, runner, latency_model)
    stop_at_total = optuna.study.MaxTrialsCallback(config.trials, states=COUNTED)

    def quiet(record: logging.LogRecord) -> bool:
        """Optuna logs a failed trial as a warning; a trial that gave way is no failure worth one."""
        return not any(record.getMessage().startswith(f"Trial {n} failed") for n in objective.given_way)

    running = optuna.trial.TrialState.RUNNING
    logger = logging.getLogger("optuna.study._optimize")
    logger.addFilter(quiet)
    try:
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)  # a dead worker's trial: failed, and queued again
            finished = len(finished_trials(study))
            if finished >= config.trials:
                return study
            if finished + len(study.get_trials(deepcopy=False, states=(running,))) >= config.trials:
                time.sleep(config.heartbeat)  # the last trials run elsewhere: wait, in case their worker dies
                continue
            study.optimize(objective, callbacks=[stop_at_total], catch=(SurplusTrial,), gc_after_trial=True)
    finally:
        logger.removeFilter(quiet)


def proxy_recipe(data: str, epochs: int, batch_size: int, lr: float, workers: int, seed: int) -> dict[str, Any]:
    """The short training each trial is scored by: the recipe without heavy regularisation."""
    return {
        "data": data,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "warmup_epochs": min(1.0, epochs / 3),
        "weight_decay": 5e-4,
        "policy": "none",
        "crop_scale": (0.6, 1.0),
        "mixup": 0.0,
        "cutmix": 0.0,
        "seed": seed,
        "workers": workers,
        "progress": False,
    }


class LocalRunner:
    """Measures with the profile's backend here and proxy-trains with ``designer train``'s engine."""

    def __init__(self, profile: str, recipe: dict[str, Any]) -> None:
        from designer.workflows.verify import ProfileMeasurer

        self.measurer = ProfileMeasurer(profile)
        self.recipe = recipe

    def measure(self, spec: ArchSpec) -> float:
        return self.measurer.throughput(spec)

    def train(self, spec: ArchSpec, trial_dir: Path, report: Report) -> float:
        from train.loop import train
        from train.recipe import TrainConfig

        config = TrainConfig(arch=spec, out=str(trial_dir / "run"), **self.recipe)
        result = train(config, on_epoch=lambda record: report(record["epoch"] - 1, record["val_top1"]))
        return float(result.history[-1]["val_top1"])
