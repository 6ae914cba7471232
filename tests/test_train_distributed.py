"""The same ``designer train`` command under torchrun: two CPU processes with gloo and DDP."""

from __future__ import annotations

import os
import subprocess
import sys

from support.data import write_idx
from support.specs import tiny_spec

from designer.nn.checkpoint import load_checkpoint
from train.rundir import read_metrics


def test_two_processes_train_together_and_only_rank_0_reports(tmp_path):
    data = write_idx(tmp_path / "data", train=48, test=10, side=12)
    arch = tmp_path / "tiny.json"
    tiny_spec(classes=4, channels=1).save(arch)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "designer.cli", "train", str(arch), "--data", str(data), "--out", str(tmp_path / "run"),
        "--epochs", "1", "--batch-size", "8", "--warmup-epochs", "0", "--ema-decay", "0.9",
        "--device", "cpu", "--workers", "0", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 process(es): rank 0 cpu, rank 1 cpu; batch 8 (4 per process)" in done.stdout
    assert done.stdout.count("epoch 1/1") == 1  # rank 0 logs alone
    (record,) = read_metrics(tmp_path / "run")
    assert record["rank_images"] == [24, 24] and record["train_images"] == 48  # each rank trained on half
    saved = load_checkpoint(tmp_path / "run" / "last.pt")
    assert len(saved["rng"]) == 2 and saved["epoch"] == 1
    assert not any(key.startswith("module.") for key in saved["model"])  # the plain network, not the DDP wrapper
