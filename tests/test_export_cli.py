"""``designer export`` and ``designer bench`` from the command line: a checkpoint to ONNX and Triton, bad input."""

import onnx
import pytest
import torch
from support.specs import tiny_family_spec, trained_like

from designer.cli import main
from designer.nn.checkpoint import save_checkpoint
from designer.nn.model import build_model
from export.deps import tensorrt_available
from export.onnx_export import TOLERANCE, ort_session, read_spec, run_ort
from export.parity import Parity
from export.source import load_network


def run(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_checkpoint_exports_its_ema_weights_to_onnx_and_a_triton_repository(capsys, tmp_path):
    pytest.importorskip("tritonclient.grpc.model_config_pb2")
    from export.triton import parse_config

    spec = tiny_family_spec("mbv2")
    raw, ema = trained_like(spec, seed=0), trained_like(spec, seed=1)
    save_checkpoint(tmp_path / "run.pt", spec, raw.state_dict(), ema=ema.state_dict())
    onnx_path, repo = tmp_path / "out" / "net.onnx", tmp_path / "repo"
    code, out, err = run(
        capsys, "export", tmp_path / "run.pt", "--onnx", onnx_path, "--triton-repo", repo, "--name", "net",
        "--opt-batch", 8, "--max-batch", 16,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "onnxruntime matches PyTorch: batch 1:" in out and "untrained" not in out

    model = onnx.load(onnx_path)
    assert read_spec(model) == spec
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        expected = ema(x).numpy()
    actual = run_ort(ort_session(str(onnx_path)), x.numpy())
    assert Parity.between(actual, expected).rel <= TOLERANCE

    assert (repo / "net" / "1" / "model.onnx").read_bytes() == onnx_path.read_bytes()
    config = parse_config((repo / "net" / "config.pbtxt").read_text())
    assert config.platform == "onnxruntime_onnx" and config.max_batch_size == 16
    assert list(config.dynamic_batching.preferred_batch_size) == [8, 16]
    onnx_input = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    assert (config.input[0].name, list(config.input[0].dims)) == (model.graph.input[0].name, onnx_input)
    assert list(config.output[0].dims) == [spec.num_classes]


def test_an_arch_spec_loads_with_untrained_weights(tmp_path):
    spec = tiny_family_spec("basic")
    spec.save(tmp_path / "arch.json")
    network = load_network(tmp_path / "arch.json")
    assert network.spec == spec and not network.trained and not network.model.training
    norms = [m for m in network.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(bool((norm.weight > 0).all()) for norm in norms)  # no branch left all zeros
    assert all(not torch.equal(norm.running_var, torch.ones_like(norm.running_var)) for norm in norms)


def bad_checkpoint(tmp_path):
    spec = tiny_family_spec("basic")
    other = build_model(tiny_family_spec("bottleneck"))
    save_checkpoint(tmp_path / "bad.pt", spec, other.state_dict())
    return tmp_path / "bad.pt"


def arch(tmp_path):
    tiny_family_spec("basic").save(tmp_path / "arch.json")
    return tmp_path / "arch.json"


BAD_EXPORTS = [
    (bad_checkpoint, ["--onnx", "out/a.onnx"], "does not match its arch spec"),
    (arch, ["--engine", "out/a.plan", "--precision", "int8"], "--precision 'int8' is not one of fp32, fp16"),
    (arch, ["--engine", "out/a.plan", "--min-batch", 8, "--max-batch", 4], "give --min-batch <= --opt-batch"),
    (arch, ["--onnx", "out/a.onnx", "--opt-batch", 0], "--opt-batch must be a whole number of at least 1"),
    (arch, ["--engine", "out/a.plan", "--workspace", "lots"], "--workspace: 'lots' is not a number"),
    (arch, [], "nothing to export; give --onnx PATH"),
    (arch, ["--triton-repo", "out/repo"], "--triton-repo needs --name"),
    (arch, ["--triton-repo", "out/repo", "--name", "a/b"], "is not a valid Triton model name"),
    (lambda tmp_path: tmp_path / "missing.pt", ["--onnx", "out/a.onnx"], "does not exist; check the path"),
]


@pytest.mark.parametrize("source, options, message", BAD_EXPORTS)
def test_bad_export_gets_one_line_and_writes_nothing(capsys, tmp_path, monkeypatch, source, options, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "export", source(tmp_path), *options)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(tensorrt_available(), reason="TensorRT is installed here")
def test_without_tensorrt_engine_and_bench_say_how_to_install_it(capsys, tmp_path):
    for argv in (["export", arch(tmp_path), "--engine", tmp_path / "a.plan"], ["bench", tmp_path / "a.plan"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1 and "pip install 'designer[tensorrt]'" in err
    assert not (tmp_path / "a.plan").exists()
