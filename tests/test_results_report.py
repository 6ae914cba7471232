"""docs/RESULTS.md is exactly what ``benchmarks/results_report.py`` computes from the committed files."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def results_report() -> ModuleType:
    """The generator script as a module (``benchmarks/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("results_report", ROOT / "benchmarks" / "results_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_report_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    assert results_report().render(ROOT) == committed, "run `python benchmarks/results_report.py` and commit"


def test_wrapped_lines_keep_units_and_start_no_list() -> None:
    paragraph = results_report().paragraph
    tail = "took 284 + 282 + 8 s, 12.5 % and 1,202 img/s at 224 px"
    for padding in range(60):  # puts each space of the tail at the end of a line once
        text = "x" * padding + " word" * 18 + " " + tail
        lines = paragraph(text).splitlines()
        assert " ".join(lines) == text
        assert not {line.split(" ", 1)[0] for line in lines} & {"+", "s,", "%", "img/s", "px"}


def test_a_row_without_a_cell_under_every_heading_is_refused() -> None:
    table = results_report().table
    assert table(["a", "b"], [["1", "2"]]).splitlines()[-1] == "| 1 | 2 |"
    with pytest.raises(ValueError, match="2 cells under 3 headings"):
        table(["a", "b", "c"], [["1", "2"]])
