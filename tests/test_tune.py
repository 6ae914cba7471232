"""designer tune at tiny scale on the CPU: the shipped onnxruntime profile and generated data."""

import csv

import optuna
from support.data import write_idx

from designer.cli import main

ARGS = [
    "--family",
    "basic",
    "--profile",
    "cpu-ort-fp32",
    "--target-throughput",
    "300",
    "--resolution",
    "32",
    "--stages",
    "3",
    "--kernel",
    "3",
    "--max-width",
    "48",
    "--max-depth",
    "3",
    "--classes",
    "4",
    "--epochs",
    "1",
    "--batch-size",
    "16",
    "--workers",
    "0",
]


def test_study_runs_resumes_and_writes_outputs(tmp_path, capsys):
    data = write_idx(tmp_path / "data", train=64, test=16, side=8)
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    common = [*ARGS, "--data", str(data), "--storage", storage, "--study", "s", "--out", str(tmp_path / "out")]
    assert main(["tune", *common, "--trials", "2"]) == 0
    assert main(["tune", *common, "--trials", "3"]) == 0  # a rerun continues the same study
    study = optuna.load_study(study_name="s", storage=storage)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 3 and [t.number for t in finished] == [0, 1, 2]
    for trial in finished:
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert trial.user_attrs["measured_throughput"] > 0 and 0 <= trial.values[0] <= 1
            assert 0.1 <= trial.params["rho0"] <= 2.0
    rows = list(csv.DictReader((tmp_path / "out" / "trials.csv").open()))
    assert len(rows) == 3 and {"rho0", "measured", "accuracy", "widths"} <= set(rows[0])
    for name in ("best_arch.json", "accuracy_vs_rho.png", "accuracy_vs_throughput.png", "trials.md"):
        assert (tmp_path / "out" / name).is_file()
    assert "best: trial" in capsys.readouterr().out


def test_tune_needs_a_throughput_target(tmp_path, capsys):
    code = main(["tune", "--family", "basic", "--profile", "cpu-ort-fp32", "--data", str(tmp_path)])
    assert code == 2 and "needs --target-throughput" in capsys.readouterr().err


def test_multi_objective_study_writes_a_pareto_front(tmp_path):
    data = write_idx(tmp_path / "data", train=64, test=16, side=8)
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    code = main(
        [
            "tune",
            *ARGS,
            "--data",
            str(data),
            "--storage",
            storage,
            "--study",
            "m",
            "--out",
            str(tmp_path / "out"),
            "--trials",
            "2",
            "--multi-objective",
        ]
    )
    assert code == 0
    study = optuna.load_study(study_name="m", storage=storage)
    assert len(study.directions) == 2
    assert (tmp_path / "out" / "pareto.json").is_file() and list((tmp_path / "out").glob("pareto_*_arch.json"))
