"""The benchmark scripts draw their plots from committed results, on any machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("script", "report", "argv"),
    [
        ("throughput_targets.py", "h200/targets-fp16.json", ["--out", "{results}", "--plot-only"]),
        (
            "gap_over_time.py",
            "gap_over_time.json",
            ["{results}", "--replot", "--beside", str(ROOT / "docs" / "gap_over_time-a3f0d96.json")],
        ),
        ("relaxed_climbs.py", "relaxed_climbs.json", ["{results}", "--replot"]),
    ],
)
def test_a_benchmark_plot_is_drawn_from_a_finished_run(
    tmp_path: Path, script: str, report: str, argv: list[str]
) -> None:
    """The script draws its plot (``.png`` beside the report) from a committed report, copied."""
    results = tmp_path / "results.json"
    results.write_text((ROOT / "docs" / report).read_text())
    command = [sys.executable, str(ROOT / "benchmarks" / script), *(a.format(results=results) for a in argv)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"wrote {tmp_path / 'results.png'}\n"
    assert (tmp_path / "results.png").read_bytes().startswith(PNG)
