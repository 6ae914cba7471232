"""The profiles shipped in ``profiles/``: they load, the wheel carries them, the V100 ones are the
published tables as imported (with their notice), and the design card's command works on them."""

import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.latency import SHARED

from designer.cli import main
from latency.predict.profiles import profile_stem, profiles_in, shipped_dir
from latency.predict.table import LatencyTable

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = profiles_in(shipped_dir())
V100 = sorted(name for name in SHIPPED if name.startswith("v100-trt-"))
PACKAGE_DATA_LIMIT = 3_000_000
"""Bytes: the V100 tables are 13 MB as JSON and 1.9 MB gzipped; the measured profiles ~0.3 MB."""


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_profile_loads_under_its_name(name):
    table = LatencyTable.load(SHIPPED[name])
    assert table.name == name and table.complete and len(table.entries) > 1000
    assert table.provenance["device_name"]


def test_the_v100_tables_ship_at_every_precision_and_batch_gzipped():
    expected = [f"v100-trt-{p}-b{b}" for p in ("fp16", "fp32", "int8") for b in (1, 128, 32, 64)]
    assert V100 == sorted(expected)
    assert all(SHIPPED[name].name.endswith(".json.gz") for name in V100)


def test_the_wheel_carries_every_shipped_file_and_stays_small():
    tomllib = pytest.importorskip("tomllib")
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["profiles"]
    files = [p for p in shipped_dir().iterdir() if p.is_file() and p.suffix != ".py"]
    assert [p.name for p in files if not any(fnmatch.fnmatch(p.name, pattern) for pattern in patterns)] == []
    assert {"NOTICE", "LICENSE-tinynas-v100"} <= {p.name for p in files}
    assert sum(p.stat().st_size for p in files) < PACKAGE_DATA_LIMIT


def test_the_notice_names_the_source_of_every_v100_profile():
    notice = (shipped_dir() / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in (shipped_dir() / "LICENSE-tinynas-v100").read_text()
    for name in V100:
        provenance = LatencyTable.load(SHIPPED[name]).provenance
        commit = provenance["source"].split("commit ")[1].split(")")[0]
        assert commit in notice and provenance["file"] in notice and "Apache-2.0" in provenance["source"]


@pytest.mark.skipif(not (SHARED / "conv_data.out").is_file(), reason=f"the published V100 tables are not at {SHARED}")
def test_the_shipped_v100_profiles_equal_a_fresh_import(tmp_path):
    script = ROOT / "benchmarks" / "ship_v100_profiles.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check", "--shared", str(SHARED)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("unchanged") == len(V100)
    assert {profile_stem(Path(line.split()[0])) for line in result.stdout.splitlines()[:-1]} == set(V100)


def test_the_design_card_command_works_on_the_shipped_v100_profile(capsys):
    assert main(["solve", "--target-throughput", "1200", "--profile", "v100-trt-fp32", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["profile"] == "v100-trt-fp32-b128" and data["predicted_throughput"] >= 1200
