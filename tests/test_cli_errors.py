"""Every bad input the new-user report found ends in one ``error:`` line and exit status 2, with
nothing written: wrong numbers, unwritable or wrong targets, oversized networks, garbage files,
bad study storage, profiles that do not cover the design."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.data import write_idx

from designer.cli import main
from designer.core.reference import reference_spec
from designer.core.spec import ArchSpec, StageSpec, StemSpec
from latency.predict.profiles import shipped_dir

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_FP16 = shipped_dir() / "h100-torch-fp16-b256.json"


def unwritable(tmp_path: Path) -> Path:
    """A folder no file can be written in (root writes anywhere on disk, but not into /proc)."""
    if os.geteuid() == 0:
        return Path("/proc")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, str]:
    """Input files of every kind, and the names the cases use for them."""
    tiny = ArchSpec(32, StemSpec(16), (StageSpec("basic", 24, 1), StageSpec("basic", 32, 1)), num_classes=4)
    tiny.save(tmp_path / "arch.json")
    huge = tiny.to_dict()
    huge["stages"][0]["width"] = 1_000_000_000
    (tmp_path / "huge.json").write_text(json.dumps(huge))
    big = tiny.to_dict()
    for stage in big["stages"]:
        stage["width"] = 60_000
    (tmp_path / "big.json").write_text(json.dumps(big))
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "notadb.db").write_text("this is not a database\n")
    (tmp_path / "a-folder").mkdir()
    write_idx(tmp_path / "data", train=16, test=4, side=8)
    profile = json.loads(SHIPPED_FP16.read_text())
    profile["entries"] = [entry for entry in profile["entries"] if entry[0] == "avgpool"][:5]
    (tmp_path / "cut.json").write_text(json.dumps(profile))
    return {"tmp": str(tmp_path), "unwritable": str(unwritable(tmp_path))}


TRAIN = ["--data", "{tmp}/data", "--out", "{tmp}/run", "--epochs", "1", "--batch-size", "4", "--workers", "0"]
TUNE = ["tune", "--family", "basic", "--profile", "cpu-ort-fp32", "--target-throughput", "300", "--data", "{tmp}"]
CASES = [
    # numbers that are not numbers, named as such
    (["solve", "--family", "basic", "--profile", "cpu-ort-fp32", "--target-throughput", "inf"], "--target-throughput must be a finite number"),
    (["solve", "--family", "basic", "--profile", "cpu-ort-fp32", "--target-throughput", "nan"], "--target-throughput must be a finite number"),
    (["solve", "--flops", "1e400"], "'1e400' is too large"),
    (["solve", "--flops=-1"], "--flops: must be positive, got '-1'"),
    (["solve", "--flops", "1G", "--beta", "nan"], "--beta must be a finite number"),
    (["solve", "--flops", "1G", "--alpha", "nan,1,1,1,8"], "--alpha needs 5 finite non-negative weights"),
    (["solve", "--family", "mbv2", "--flops", "300M", "--head-width", "0"], "--head-width must be a whole number of at least 1"),
    (["solve", "--flops", "1G", "--time-limit", "nan"], "--time-limit must be a finite number"),
    (["train", "{tmp}/arch.json", *TRAIN, "--warmup-epochs", "nan"], "--warmup-epochs must be a finite number at least 0, got nan"),
    (["train", "{tmp}/arch.json", *TRAIN, "--warmup-epochs", "0", "--mixup", "nan"], "--mixup must be a finite number at least 0, got nan"),
    # targets that cannot be written: refused before any work
    (["solve", "--flops", "1G", "-o", "{tmp}/a-folder"], "arch spec {tmp}/a-folder is a directory; give a file path"),
    (["solve", "--flops", "1G", "-o", "{unwritable}/arch.json"], "cannot write arch spec {unwritable}/arch.json"),
    (["export", "{tmp}/arch.json", "--onnx", "{tmp}/a-folder"], "ONNX model {tmp}/a-folder is a directory"),
    (["export", "{tmp}/arch.json", "--onnx", "{unwritable}/m.onnx"], "cannot write ONNX model {unwritable}/m.onnx"),
    (["export", "{tmp}/arch.json", "--onnx", "{tmp}/notadb.db/m.onnx"], "notadb.db is not a directory"),
    (["export", "{tmp}/arch.json", "--triton-repo", "{unwritable}", "--name", "m"], "cannot write Triton model"),
    # networks too large to build
    (["export", "{tmp}/huge.json", "--onnx", "{tmp}/m.onnx"], "width must be a positive integer of at most 65,536"),
    (["train", "{tmp}/huge.json", *TRAIN, "--warmup-epochs", "0"], "width must be a positive integer of at most 65,536"),
    (["export", "{tmp}/big.json", "--onnx", "{tmp}/m.onnx"], "float32), more than this machine's"),
    # files that are not what they should be
    (["profile", "import-tinynas", "{tmp}/garbage.bin", "--precision", "fp32", "--output-dir", "{tmp}/p"], "is not text"),
    (["analyze", "{tmp}/garbage.bin"], "is not text"),
    ([*TUNE, "--storage", "notaurl"], "--storage 'notaurl' is not a database URL"),
    ([*TUNE, "--storage", "sqlite:///{tmp}/notadb.db"], "file is not a database"),
    # a profile that does not cover the design predicts nothing worth a design
    (["solve", "--family", "bottleneck", "--target-throughput", "1000", "--profile", "{tmp}/cut.json"], "is not a prediction to trust: 100% of the predicted latency is extrapolated"),
]  # fmt: skip


@pytest.mark.parametrize(
    "argv, message", CASES, ids=[" ".join(argv[:3]) + f" #{i}" for i, (argv, _) in enumerate(CASES)]
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(workspace, capsys, argv, message):
    tmp = Path(workspace["tmp"])
    before = sorted(tmp.rglob("*"))
    code = main([arg.format(**workspace) for arg in argv])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and message.format(**workspace) in err
    assert "Traceback" not in out + err
    assert sorted(tmp.rglob("*")) == before


def test_a_twenty_line_tinynas_import_does_not_solve_a_throughput_target(tmp_path, capsys):
    source = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinynas-v100" / "conv_data.out"
    if not source.is_file():
        pytest.skip(f"the published V100 tables are not at {source.parent}")
    (tmp_path / "t20.out").write_text("".join(source.read_text().splitlines(keepends=True)[:20]))
    argv = [
        "profile",
        "import-tinynas",
        str(tmp_path / "t20.out"),
        "--precision",
        "fp32",
        "--output-dir",
        str(tmp_path),
    ]
    assert main(argv) == 0
    profile = str(tmp_path / "v100-trt-fp32-b128.json")
    solve = [
        "solve",
        "--family",
        "bottleneck",
        "--target-throughput",
        "1000",
        "--profile",
        profile,
        "--time-limit",
        "3",
    ]
    assert main(solve) == 2 and "is not a prediction to trust" in capsys.readouterr().err
    assert main([*solve, "--allow-extrapolation", "--json"]) == 0  # accepted when asked, and said so
    captured = capsys.readouterr()
    assert json.loads(captured.out)["extrapolated_fraction"] > 0.5
    assert any(line.startswith("warning: ") for line in captured.err.splitlines())


def test_check_reports_what_a_profile_covers(tmp_path, capsys):
    assert main(["profile", "check", "cpu-ort-fp32", "--arch", "resnet18", "--json"]) == 0
    coverage = json.loads(capsys.readouterr().out)["coverage"]
    assert coverage["networks"]["resnet18"] == 0.0 and "conv_add" not in coverage["unmeasured_kinds"]
    groups = {(row["op"], row["kernel"], row["stride"]) for row in coverage["measured"]}
    assert ("conv", 3, 1) in groups and ("avgpool", 0, 0) in groups
    reference_spec("resnet18", 224).save(tmp_path / "r18.json")
    assert main(["profile", "check", "cpu-ort-fp32", "--arch", str(tmp_path / "r18.json")]) == 0
    assert "of the predicted latency is extrapolated (dearest: " in capsys.readouterr().out


def test_a_reader_that_goes_away_is_no_error():
    process = subprocess.Popen(
        [sys.executable, "-m", "designer.cli", "analyze", "resnet50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    process.stdout.close()  # like `| head -1` once it has its line: every write after this fails
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0 and err == b""


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"profile": 5}', "profile must be a string or null, got 5"),
        ('{"profile": "cpu-ort-fp32", "colour": 1}', "has unknown key(s) colour"),
        ("{not json", "is not valid JSON"),
    ],
)
def test_a_broken_user_config_is_named_and_kept(tmp_path, monkeypatch, capsys, text, message):
    monkeypatch.setenv("DESIGNER_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("DESIGNER_PROFILE", raising=False)
    (tmp_path / "config.json").write_text(text)
    assert main(["solve", "--family", "basic", "--target-throughput", "100"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert main(["profile", "use", "cpu-ort-fp32"]) == 2 and (tmp_path / "config.json").read_text() == text


@pytest.mark.parametrize(
    ("script", "argv", "message"),
    [
        ("relaxation_gap.py", ["out.json", "--flops", "abc"], "'abc' is not a number"),
        ("neighbourhood_search.py", ["out.json", "--seconds", "0"], "--time-limit and --seconds must be above 0"),
        ("neighbourhood_search.py", ["out.json", "--design", "missing.json"], "not a report of relaxation_gap.py"),
        ("measure_designs.py", ["--profile", "h200-torch-fp16-b256", "--out", "out.json"], "give the networks"),
        ("solver_seeds.py", ["out.json", "--seeds", "0"], "--seeds must be at least 1"),
        ("gap_over_time.py", ["out.json", "--time-limit", "0"], "--time-limit must be positive"),
        ("gap_over_time.py", ["out.json", "--replot"], "out.json: cannot read it as JSON"),
        ("relaxed_climbs.py", ["out.json", "--candidates", "0"], "--candidates must be at least 1"),
        ("relaxed_climbs.py", ["out.json", "--case", "mbv2:4.5G"], "--case 'mbv2:4.5G': give family:FLOPs:params"),
        ("relaxed_climbs.py", ["out.json", "--replot"], "out.json: cannot read it as JSON"),
        ("solver_seeds.py", ["out.json", "--seeds", "x"], "invalid int value: 'x' (see solver_seeds.py --help)"),
        ("solver_seeds.py", ["out.json", "--throughput", "mbv2:3000"], "expected FAMILY:TARGET:PROFILE"),
        ("solver_seeds.py", ["out.json", "--budget", "bottleneck:4.13G"], "expected FAMILY:FLOPS:PARAMS"),
        (
            "input_sparsity.py",
            ["out.json", "--breakdown", "missing.json"],
            "cannot read layer_breakdown.py report missing.json",
        ),
        (
            "sustained_clocks.py",
            ["out.json", "missing.json", "--profile", "h200-torch-fp16-b256"],
            "cannot read arch spec missing.json",
        ),
        (
            "stage_vs_ops.py",
            ["out.json", "missing.json", "--profile", "h200-torch-fp16-b256"],
            "cannot read arch spec missing.json",
        ),
        ("activation_scale.py", ["out.json", "missing.json"], "cannot read arch spec missing.json"),
        ("throughput_targets.py", ["--out", "out.json"], "one of the arguments --profile --plot-only is required"),
        ("throughput_targets.py", ["--out", "out.json", "--plot-only"], "cannot read throughput-targets results"),
    ],
)
def test_benchmark_scripts_end_bad_input_in_one_line(tmp_path, script, argv, message):
    # the benchmark scripts run under the CLI's guard (designer.cli.guard.run_guarded)
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *argv], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and message in done.stderr and len(done.stderr.splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_every_benchmark_script_parses_its_options_with_the_one_line_parser():
    """The scripts' usage errors are one line, like the CLI's, as they use its parser."""
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        tree = ast.parse(script.read_text())
        called = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        if any(name.endswith(".add_argument") for name in called):
            assert "Parser" in called and not any(name.endswith("ArgumentParser") for name in called), script.name
