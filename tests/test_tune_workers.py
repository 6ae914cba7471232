"""Many tuning workers on one study: ``--trials`` is the study's total, and a worker killed mid-trial
has its trial run again by another.

Workers are processes of their own (``support.tune_worker``: real solves, fake fast measuring
and training) on SQLite and on PostgreSQL where ``DESIGNER_TEST_POSTGRES_URL`` names a server;
``.ci/run`` starts one, so CI runs both.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest
from support.data import write_idx

from designer.cli import main
from designer.workflows.tune_workers import run_workers

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = os.environ.get("DESIGNER_TEST_POSTGRES_URL")
COUNTED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    if not POSTGRES:
        pytest.skip("no PostgreSQL server: set DESIGNER_TEST_POSTGRES_URL (.ci/run starts one)")
    return POSTGRES


def worker_command(storage: str, study: str, out: Path, number: int, seconds: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "support.tune_worker",
        *("--storage", storage, "--study", study, "--trials", "6", "--out", str(out)),
        *("--worker", str(number), "--seconds", str(seconds)),
    ]


def start(command: list[str]) -> subprocess.Popen[str]:
    path = os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def trials(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_together_run_the_studys_total(storage, tmp_path, workers):
    study = f"total-{uuid.uuid4().hex[:8]}"
    processes = [start(worker_command(storage, study, tmp_path, n, 0.3)) for n in range(workers)]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * workers, outputs
    states = Counter(trial.state for trial in trials(storage, study))
    assert states[optuna.trial.TrialState.COMPLETE] + states[optuna.trial.TrialState.PRUNED] == 6
    assert states[optuna.trial.TrialState.RUNNING] == 0


def test_a_killed_workers_trial_is_run_again_and_the_total_reached(storage, tmp_path):
    study = f"killed-{uuid.uuid4().hex[:8]}"
    doomed = start(worker_command(storage, study, tmp_path, 0, 30.0))  # first: its trial trains (no reuse)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(f"trials/*/pid-{doomed.pid}")):  # the doomed worker is mid-trial
        assert time.monotonic() < deadline and doomed.poll() is None, doomed.communicate()[0]
        time.sleep(0.2)
    survivor = start(worker_command(storage, study, tmp_path, 1, 0.3))
    doomed.kill()  # SIGKILL: no chance to record anything
    doomed.communicate()
    output = survivor.communicate(timeout=180)[0]
    assert survivor.returncode == 0, output
    found = trials(storage, study)
    assert sum(trial.state in COUNTED for trial in found) == 6
    assert not [trial for trial in found if trial.state == optuna.trial.TrialState.RUNNING]
    failed = [trial for trial in found if trial.state == optuna.trial.TrialState.FAIL]
    killed = [trial for trial in failed if not trial.user_attrs.get("surplus")]
    retries = [trial for trial in found if trial.system_attrs.get("failed_trial") is not None]
    assert len(killed) == 1 and [trial.system_attrs["failed_trial"] for trial in retries] == [killed[0].number]
    assert retries[0].state in COUNTED and retries[0].params == killed[0].params


def test_a_trial_left_running_before_heartbeats_existed_is_run_again(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="old", storage=storage, direction="maximize").ask()  # running, no heartbeat
    worker = start(worker_command(storage, "old", tmp_path, 0, 0.1))
    output = worker.communicate(timeout=180)[0]
    assert worker.returncode == 0, output
    states = Counter(trial.state for trial in trials(storage, "old") if not trial.user_attrs.get("surplus"))
    assert states[optuna.trial.TrialState.FAIL] == 1 and states[optuna.trial.TrialState.RUNNING] == 0
    assert states[optuna.trial.TrialState.COMPLETE] + states[optuna.trial.TrialState.PRUNED] == 6


def test_one_worker_per_gpu_each_sees_only_its_own(tmp_path, capfd, monkeypatch):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    commands = [worker_command(storage, "gpus", tmp_path, n, 0.1) for n in range(2)]
    assert run_workers(commands, ["0", "1"]) == 0
    out = capfd.readouterr().out
    assert "CUDA_VISIBLE_DEVICES=0" in out and "CUDA_VISIBLE_DEVICES=1" in out
    assert sum(trial.state in COUNTED for trial in trials(storage, "gpus")) == 6


def test_tune_gpus_starts_workers_and_reports_the_study(tmp_path, capsys):
    data = write_idx(tmp_path / "data", train=32, test=8, side=8)
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    argv = [
        "tune",
        *("--family", "basic", "--profile", "cpu-ort-fp32", "--target-throughput", "300", "--resolution", "32"),
        *("--kernel", "3"),
        *("--stages", "3", "--max-width", "32", "--max-depth", "2", "--classes", "4", "--epochs", "1"),
        *("--batch-size", "16", "--workers", "0", "--data", str(data), "--storage", storage, "--study", "g"),
        *("--out", str(tmp_path / "out"), "--trials", "2", "--gpus", "0,1", "--heartbeat", "1", "--grace", "5"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "best: trial" in out and (tmp_path / "out" / "trials.csv").is_file()
    assert sum(trial.state in COUNTED for trial in trials(storage, "g")) == 2


def test_a_study_keeps_its_kind(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    optuna.create_study(study_name="single", storage=storage, direction="maximize")
    argv = ["tune", "--family", "basic", "--profile", "cpu-ort-fp32", "--target-throughput", "300"]
    argv += ["--data", str(tmp_path), "--storage", storage, "--study", "single", "--multi-objective"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "study 'single'" in err and "is single-objective" in err and "drop --multi-objective" in err
