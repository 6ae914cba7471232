"""Nothing measured, trained or written is lost: narrower profiling keeps a profile's entries, a run
with a lost config.json resumes, interrupted writes leave no litter, exports start from intact runs."""

from __future__ import annotations

import os
import shutil
import time

import pytest
import torch
from support.data import write_idx

from designer.cli import main
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text, check_writable, remove_stale_temps, temp_prefix
from designer.core.spec import ArchSpec, StageSpec, StemSpec
from latency.predict.profiles import shipped_dir
from latency.predict.table import LatencyTable


def test_a_trial_run_with_limit_adds_to_a_profile_and_drops_nothing(tmp_path, capsys):
    path = tmp_path / "mine.json"
    shutil.copy(shipped_dir() / "cpu-ort-fp32-b8.json", path)
    before = LatencyTable.load(path).entries
    argv = ["profile", "--gpu", "cpu", "--backend", "onnxruntime", "--precision", "fp32", "--batch", "8"]
    assert main([*argv, "--resolution", "32", "--families", "basic", "--limit", "5", "-o", str(path)]) == 0
    after = LatencyTable.load(path)
    assert after.entries.keys() >= before.keys() and after.complete
    assert after.provenance["grid"]["ops"] == 5 and after.provenance["previous_grids"][0]["ops"] == len(before)


def test_a_first_user_profile_keeps_the_shipped_entries_it_shadows(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DESIGNER_PROFILE_DIR", str(tmp_path))
    argv = ["profile", "--gpu", "cpu", "--backend", "onnxruntime", "--precision", "fp32", "--batch", "8"]
    assert main([*argv, "--resolution", "32", "--families", "basic", "--limit", "3"]) == 0
    shipped = LatencyTable.load(shipped_dir() / "cpu-ort-fp32-b8.json")
    mine = LatencyTable.load(tmp_path / "cpu-ort-fp32-b8.json")  # now first in the search path
    assert mine.entries.keys() >= shipped.entries.keys()


def test_interrupted_writes_leave_nothing_behind(tmp_path):
    target = tmp_path / "last.pt"
    stale = [tmp_path / f"{temp_prefix(target)}{n}.tmp" for n in ("a1", "b2")]
    for path in stale:
        path.write_bytes(b"half a checkpoint")
        os.utime(path, (time.time() - 3600,) * 2)  # left by a process killed an hour ago
    running = tmp_path / f"{temp_prefix(target)}c3.tmp"
    running.write_bytes(b"another process writing now")
    other = tmp_path / f"{temp_prefix(tmp_path / 'best.pt')}d4.tmp"
    other.write_bytes(b"another target")
    os.utime(other, (time.time() - 3600,) * 2)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and not any(path.exists() for path in stale)
    assert running.exists() and other.exists()  # a live write, and temp files of another target
    assert remove_stale_temps(tmp_path / "best.pt") == [other]


def test_writable_targets_are_checked_without_writing(tmp_path):
    check_writable(tmp_path / "new" / "deeper" / "file.onnx")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DesignerError, match="is a directory"):
        check_writable(tmp_path)
    with pytest.raises(DesignerError, match="cannot write"):
        atomic_write_text(tmp_path, "x")


def test_a_run_resumes_without_its_config_and_exports_from_its_folder(tmp_path, capsys):
    spec = ArchSpec(16, StemSpec(8), (StageSpec("basic", 16, 1), StageSpec("basic", 16, 1, stride=1)), num_classes=4)
    spec.save(tmp_path / "arch.json")
    data = write_idx(tmp_path / "data", train=16, test=4, side=8)
    run = tmp_path / "run"
    argv = ["train", str(tmp_path / "arch.json"), "--data", str(data), "--out", str(run), "--epochs", "2"]
    argv += ["--batch-size", "8", "--workers", "0", "--warmup-epochs", "0", "--policy", "none", "--no-progress"]
    assert main([*argv, "--stop-after", "1"]) == 0
    (run / "config.json").unlink()
    assert main([*argv, "--resume"]) == 0  # the recipe comes from last.pt
    assert (run / "config.json").is_file() and "run complete" in capsys.readouterr().out

    assert main(["export", str(run), "--onnx", str(tmp_path / "run.onnx")]) == 0  # a run folder, as for eval
    assert (tmp_path / "run.onnx").is_file()
    saved = torch.load(run / "last.pt", weights_only=False)
    saved["digest"] = "0" * 64
    torch.save(saved, run / "last.pt")
    assert main(["export", str(run), "--onnx", str(tmp_path / "tampered.onnx")]) == 2
    assert "does not match the digest it was saved with" in capsys.readouterr().err
    assert not (tmp_path / "tampered.onnx").exists()


def test_a_folder_without_a_checkpoint_is_named(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--onnx", str(tmp_path / "m.onnx")]) == 2
    assert f"{tmp_path} is a folder without a last.pt" in capsys.readouterr().err


def test_resume_needs_a_run(tmp_path, capsys):
    argv = ["train", "resnet18", "--data", str(tmp_path), "--out", str(tmp_path / "none"), "--resume"]
    assert main(argv) == 2
    assert "nothing to resume" in capsys.readouterr().err
