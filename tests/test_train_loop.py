"""``designer train`` and ``designer eval`` end to end on the CPU with a tiny net and tiny data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from support.data import write_idx, write_image_folder
from support.specs import tiny_spec

from designer.cli import main
from designer.nn.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from designer.nn.model import build_model
from train.loop import train
from train.recipe import TrainConfig
from train.rundir import read_metrics

QUICK = {"warmup_epochs": 0.0, "workers": 0, "progress": False, "device": "cpu"}
TIMING = ("train_seconds", "train_images_per_s")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: the tests run one process per core, and oversubscribed cores crawl."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def colour_data(root: Path) -> tuple[Path, Path]:
    """Noisy solid colours (ImageFolder) and the tiny net's arch JSON."""
    data = write_image_folder(root / "data", train_per_class=16, val_per_class=4)
    tiny_spec().save(root / "tiny.json")
    return root / "tiny.json", data


def test_tiny_net_learns_and_eval_reports_its_accuracy(capsys, tmp_path):
    arch, data = colour_data(tmp_path)
    run_dir = tmp_path / "run"
    recipe = {"policy": "none", "mixup": 0.0, "cutmix": 0.0, "random_erasing": 0.0, "crop_scale": (0.5, 1.0)}
    config = TrainConfig(
        arch=str(arch), data=str(data), out=str(run_dir), epochs=4, batch_size=8, lr=3.2, **recipe, **QUICK
    )
    result = train(config)
    assert "epoch 4/4" in capsys.readouterr().out

    history = read_metrics(run_dir)
    assert result.history == history and [record["epoch"] for record in history] == [1, 2, 3, 4]
    assert history[-1]["val_top1"] == 1.0 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["train_images"] == 48 and history[-1]["train_images_per_s"] > 0
    assert (run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text())) == config
    spec, _ = model_from_checkpoint(run_dir / "last.pt")
    saved = load_checkpoint(run_dir / "best.pt")
    assert spec == tiny_spec() and saved["classes"] == ["class0", "class1", "class2"]
    assert {"optimizer", "scheduler", "scaler", "rng", "epoch", "history", "normalize"} <= set(saved)

    code, out, _ = run(capsys, "eval", str(run_dir), "--data", str(data), "--workers", "0", "--json")
    evaluated = json.loads(out)
    assert code == 0 and evaluated["images"] == 12 and evaluated["images_per_s"] > 0
    assert evaluated["top1"] == history[-1]["val_top1"] and evaluated["top5"] == 1.0
    assert evaluated["loss"] == pytest.approx(history[-1]["val_loss"], rel=1e-4)
    code, out, _ = run(capsys, "eval", str(run_dir / "best.pt"), "--data", str(data), "--workers", "0")
    assert code == 0 and "top-1 100.00%  top-5 100.00%" in out and "img/s" in out


def test_checkpoint_that_does_not_match_its_spec_is_refused(capsys, tmp_path):
    _, data = colour_data(tmp_path)
    weights = build_model(tiny_spec()).state_dict()  # a 3-class head
    save_checkpoint(tmp_path / "bad.pt", tiny_spec(classes=5), weights)
    code, _, err = run(capsys, "eval", str(tmp_path / "bad.pt"), "--data", str(data), "--workers", "0")
    assert code == 2 and "does not match its arch spec" in err and err.count("\n") == 1
    save_checkpoint(tmp_path / "other.pt", tiny_spec(classes=4), build_model(tiny_spec(classes=4)).state_dict())
    code, _, err = run(capsys, "eval", str(tmp_path / "other.pt"), "--data", str(data))
    assert code == 2 and "classifies 4 classes but" in err


def test_resume_continues_bit_for_bit(tmp_path):
    """Two epochs in one go equal one epoch, an interruption, and a resumed second epoch."""
    data = write_idx(tmp_path / "data", train=48, test=8, side=12)
    arch = tmp_path / "tiny.json"
    tiny_spec(classes=4).save(arch)  # 3-channel spec on 1-channel data
    recipe = {
        "arch": str(arch),
        "data": str(data),
        "epochs": 2,
        "batch_size": 12,
        "lr": 1.0,
        "warmup_epochs": 0.5,
        "ema_decay": 0.9,
        "policy": "randaugment",
        "mix_switch": 0.5,
        **{k: v for k, v in QUICK.items() if k != "warmup_epochs"},
    }
    straight = train(TrainConfig(out=str(tmp_path / "straight"), **recipe))
    first = train(TrainConfig(out=str(tmp_path / "split"), **recipe), stop_after=1)
    assert first.epochs_done == 1 and len(read_metrics(tmp_path / "split")) == 1
    resumed = train(TrainConfig(out=str(tmp_path / "split"), **recipe), resume=True)
    assert resumed.epochs_done == 2

    a, b = load_checkpoint(tmp_path / "straight" / "last.pt"), load_checkpoint(tmp_path / "split" / "last.pt")
    for key in ("model", "ema"):
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][name], b[key][name]) for name in a[key])
    momentum = [state["momentum_buffer"] for state in a["optimizer"]["state"].values()]
    assert all(torch.equal(x, state["momentum_buffer"]) for x, state in zip(momentum, b["optimizer"]["state"].values()))
    assert a["scheduler"] == b["scheduler"] and a["ema_updates"] == b["ema_updates"] == 8
    strip = [{k: v for k, v in record.items() if k not in TIMING} for record in straight.history]
    assert strip == [{k: v for k, v in record.items() if k not in TIMING} for record in resumed.history]


def test_resume_refuses_another_network_or_recipe(capsys, tmp_path):
    data = write_idx(tmp_path / "data", train=16, test=4, side=8)
    arch = tmp_path / "tiny.json"
    tiny_spec(classes=4).save(arch)
    run_dir = tmp_path / "run"
    base = ["train", str(arch), "--data", str(data), "--out", str(run_dir)]
    quick = ["--epochs", "1", "--batch-size", "8", "--lr", "3.2", "--warmup-epochs", "0", "--device", "cpu"]
    assert run(capsys, *base, *quick, "--no-progress")[0] == 0
    code, _, err = run(capsys, *base, *quick)
    assert code == 2 and "already holds a run; pass --resume" in err
    other = tmp_path / "other.json"
    dataclasses.replace(tiny_spec(classes=4), activation="silu").save(other)
    code, _, err = run(capsys, "train", str(other), "--data", str(data), "--out", str(run_dir), "--resume")
    assert code == 2 and "is not the network of the run" in err and err.count("\n") == 1
    code, _, err = run(capsys, *base, "--resume", "--lr", "0.5")
    assert code == 2 and "--lr 0.5 (run: 3.2)" in err
    code, out, _ = run(capsys, *base, "--resume", "--no-progress")  # the other settings come from the run
    assert code == 0 and "run complete" in out and len(read_metrics(run_dir)) == 1
    code, _, err = run(capsys, "train", str(arch), "--data", str(data), "--out", str(tmp_path / "new"), "--resume")
    assert code == 2 and "nothing to resume" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "/nonexistent/data"], "data directory /nonexistent/data does not exist"),
        (["--batch-size", "0"], "--batch-size must be a whole number of at least 1"),
        (["--amp", "fp16", "--device", "cpu"], "--amp fp16 needs a CUDA GPU"),
        (["--batch-size", "4096", "--device", "cpu"], "fewer than one batch per process"),
    ],
)
def test_train_input_errors_are_one_line(capsys, tmp_path, argv, message):
    arch, data = colour_data(tmp_path)
    code, _, err = run(
        capsys, "train", str(arch), "--data", str(data), "--out", str(tmp_path / "run"), "--workers", "0", *argv
    )
    assert code == 2 and message in err and err.count("\n") == 1
