"""The benchmark scripts draw their plots from committed results, on any machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def test_throughput_targets_plot_is_drawn_from_a_finished_run(tmp_path: Path) -> None:
    results = tmp_path / "targets.json"
    results.write_text((ROOT / "docs" / "h200" / "targets-fp16.json").read_text())
    script = ROOT / "benchmarks" / "throughput_targets.py"
    done = subprocess.run(
        [sys.executable, str(script), "--out", str(results), "--plot-only"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"wrote {tmp_path / 'targets.png'}\n"
    assert (tmp_path / "targets.png").read_bytes().startswith(PNG)


def test_gap_over_time_plot_is_redrawn_from_finished_runs(tmp_path: Path) -> None:
    results = tmp_path / "gap.json"
    results.write_text((ROOT / "docs" / "gap_over_time.json").read_text())
    script = ROOT / "benchmarks" / "gap_over_time.py"
    beside = ROOT / "docs" / "gap_over_time-a3f0d96.json"
    done = subprocess.run(
        [sys.executable, str(script), str(results), "--replot", "--beside", str(beside)], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"wrote {tmp_path / 'gap.png'}\n"
    assert (tmp_path / "gap.png").read_bytes().startswith(PNG)


def test_relaxed_climbs_plot_is_redrawn_from_a_finished_run(tmp_path: Path) -> None:
    results = tmp_path / "climbs.json"
    results.write_text((ROOT / "docs" / "relaxed_climbs.json").read_text())
    script = ROOT / "benchmarks" / "relaxed_climbs.py"
    done = subprocess.run([sys.executable, str(script), str(results), "--replot"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"wrote {tmp_path / 'climbs.png'}\n"
    assert (tmp_path / "climbs.png").read_bytes().startswith(PNG)
