"""TensorRT engines: the engine code type-checks against tensorrt-stubs; builds and benches run where TensorRT does."""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support.specs import tiny_family_spec, trained_like

from designer.cli import main
from designer.core.errors import DesignerError
from export.deps import tensorrt_available
from export.options import EngineOptions

ROOT = Path(__file__).resolve().parents[1]
ENGINE_CODE = ["export/tensorrt_engine.py", "export/bench.py"]
MYPY_CONFIG = f"""
[mypy]
python_version = {sys.version_info.major}.{sys.version_info.minor}
ignore_missing_imports = True
follow_imports = silent
[mypy-tensorrt.*,tensorrt_bindings.*]
ignore_errors = True
[mypy-torch.*,numpy.*,onnx.*,onnxruntime.*,onnxscript.*,onnxslim.*]
follow_imports = skip
"""
CANARY = """
import tensorrt as trt

builder = trt.Builder(trt.Logger(trt.Logger.WARNING))
builder.create_netwrk(0)
builder.create_builder_config().set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, "4G")
"""


def repaired_stubs(target: Path) -> Path:
    """A copy of tensorrt-stubs that mypy can read, in ``target`` (to put on MYPYPATH).

    tensorrt-stubs installs ``tensorrt/`` without a ``py.typed`` marker, so mypy ignores it in
    site-packages, and its generated stubs have parameters named ``in`` and one required
    parameter after defaulted ones (plugin APIs and ``add_scale_nd``, unused here), which are
    syntax errors. Only those spots are changed.
    """
    dist = importlib.metadata.distribution("tensorrt-stubs")
    for file in dist.files or []:
        if file.suffix == ".pyi":
            text = Path(str(dist.locate_file(file))).read_text()
            text = re.sub(r"([(,] ?)in: ", r"\1in_: ", text)
            text = text.replace("channel_axis: int) -> IScaleLayer", "channel_axis: int = ...) -> IScaleLayer")
            (target / file).parent.mkdir(parents=True, exist_ok=True)
            (target / file).write_text(text)
    return target


def test_engine_code_type_checks_against_tensorrt_stubs(tmp_path):
    pytest.importorskip("mypy")
    try:
        stubs = repaired_stubs(tmp_path / "stubs")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("tensorrt-stubs is not installed (pip install --no-deps tensorrt-stubs)")
    (tmp_path / "mypy.ini").write_text(MYPY_CONFIG)
    (tmp_path / "canary.py").write_text(CANARY)
    command = [sys.executable, "-m", "mypy", "--config-file", tmp_path / "mypy.ini", "--cache-dir", tmp_path / "cache"]
    result = subprocess.run(
        [*map(str, command), *ENGINE_CODE, str(tmp_path / "canary.py")],
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": str(stubs)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert [e for e in errors if "canary.py" not in e] == [], result.stdout + result.stderr
    # the canary's mistakes are caught, so mypy really read the stubs rather than treating tensorrt as Any
    assert any('"Builder" has no attribute "create_netwrk"' in e for e in errors), result.stdout + result.stderr
    assert any('"set_memory_pool_limit"' in e and '"str"' in e for e in errors), result.stdout


def test_engine_options_name_the_first_problem():
    assert EngineOptions(opt_batch=8, max_batch=8).preferred_batches == (8,)
    assert EngineOptions(opt_batch=8, max_batch=64).preferred_batches == (8, 64)
    with pytest.raises(DesignerError, match="opt 64, max 32 is not ordered"):
        EngineOptions(opt_batch=64, max_batch=32)
    with pytest.raises(DesignerError, match="workspace"):
        EngineOptions(workspace=1024)


gpu_tensorrt = pytest.mark.skipif(
    not (tensorrt_available() and torch.cuda.is_available()), reason="needs TensorRT and a CUDA GPU"
)


@gpu_tensorrt
def test_engine_builds_with_a_reused_timing_cache_and_matches_onnxruntime(tmp_path):
    from export.bench import bench_engine
    from export.onnx_export import export_onnx
    from export.source import Network
    from export.tensorrt_engine import build_engine

    spec = tiny_family_spec("bottleneck")
    onnx_bytes = export_onnx(Network(spec, trained_like(spec), trained=True)).SerializeToString()
    (tmp_path / "net.onnx").write_bytes(onnx_bytes)
    cache = tmp_path / "timing.cache"
    for precision, tolerance in (("fp32", 1e-3), ("fp16", 2e-2)):
        options = EngineOptions(precision, min_batch=1, opt_batch=4, max_batch=8, timing_cache=cache)
        (tmp_path / "net.plan").write_bytes(build_engine(onnx_bytes, options))
        assert cache.stat().st_size > 0
        result = bench_engine(tmp_path / "net.plan", warmup=2, iters=20, tolerance=tolerance)
        assert result.batch_range == (1, 4, 8)
        assert result.parity.batch == 4 and result.parity.rel <= tolerance
        assert [t.batch for t in result.timings] == [1, 4]
        assert all(t.throughput > 0 and 0 < t.p50_ms <= t.p90_ms <= t.p99_ms for t in result.timings)
    with pytest.raises(DesignerError, match="TensorRT cannot parse the ONNX model"):
        build_engine(b"not an onnx model", EngineOptions(timing_cache=cache))


@gpu_tensorrt
def test_cli_builds_an_engine_into_a_triton_repository_and_benches_it(capsys, tmp_path):
    from export.triton import parse_config

    tiny_family_spec("mbv2").save(tmp_path / "arch.json")
    plan, repo = tmp_path / "net.plan", tmp_path / "repo"
    batches = ["--min-batch", "1", "--opt-batch", "4", "--max-batch", "8"]
    argv = ["export", str(tmp_path / "arch.json"), "--onnx", str(tmp_path / "net.onnx"), "--engine", str(plan)]
    argv += [*batches, "--timing-cache", str(tmp_path / "cache"), "--triton-repo", str(repo), "--name", "net"]
    assert main(argv) == 0
    assert "untrained" in capsys.readouterr().out
    assert (repo / "net" / "1" / "model.plan").read_bytes() == plan.read_bytes()
    config = parse_config((repo / "net" / "config.pbtxt").read_text())
    assert (config.platform, config.max_batch_size) == ("tensorrt_plan", 8)

    assert main(["bench", str(plan), "--warmup", "2", "--iters", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batch_range"] == [1, 4, 8] and report["parity"]["rel"] <= 2e-2
