import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from designer.core.reference import resnet18
from latency.measure.backend import Settings, get_backend
from latency.predict.ops import OpKey

ROOT = Path(__file__).resolve().parents[1]


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def test_onnxruntime_cpu_times_ops_and_networks():
    backend = get_backend("onnxruntime", Settings("fp32", warmup=1, repetitions=3, device="cpu"))
    assert backend.device_name().startswith("CPU")
    for key in (OpKey("conv_add_act", 16, 8, 32, 3, 1), OpKey("se", 32, 8, 8, 1, 1), OpKey("avgpool", 32, 4, 32, 0, 0)):
        assert 0 < backend.time_op(key, 2) < 1000
    assert 0 < backend.time_network(resnet18(32, 10), 2) < 10_000


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_tensorrt_backend_type_checks_against_the_tensorrt_stubs():
    if importlib.util.find_spec("tensorrt") is None and importlib.util.find_spec("tensorrt_bindings") is None:
        pytest.skip("neither tensorrt nor tensorrt-stubs is installed")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--no-incremental", "latency/measure/trt_backend.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _tensorrt_runs() -> bool:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    return cuda_available()


@pytest.mark.skipif(not _tensorrt_runs(), reason="tensorrt does not import here (or no GPU)")
def test_tensorrt_builds_and_times_an_op_engine():
    backend = get_backend("tensorrt", Settings("fp16", warmup=2, repetitions=5))
    assert 0 < backend.time_op(OpKey("conv_add_act", 64, 28, 64, 3, 1), 8) < 100
    assert 0 < backend.time_network(resnet18(64, 10), 8) < 1000


@pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU")
def test_torch_ops_of_a_network_sum_to_its_end_to_end_time():
    from designer.core.structure import arch_layers
    from latency.predict.ops import layer_ops

    backend = get_backend("torch", Settings("fp16", warmup=3, repetitions=10))
    spec = resnet18(128, 1000)
    ops = [op for layer in arch_layers(spec) for op in layer_ops(layer)]
    total = sum(backend.time_op(op, 64) for op in ops)
    assert total == pytest.approx(backend.time_network(spec, 64), rel=0.1)


def test_timed_networks_have_no_all_zero_convs():
    from torch import nn

    from designer.core.reference import resnet50
    from latency.measure.modules import network_module

    convs = [m for m in network_module(resnet50(32, 10)).modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(bool(conv.weight.abs().sum() > 0) and conv.bias is not None for conv in convs)


def test_timed_networks_keep_activations_at_unit_scale():
    """Calibrated batch-norms keep every stage's activations near unit scale, as a trained
    network's; left at their initial statistics they shrink towards fp16's subnormals."""
    import torch

    from designer.core.reference import resnet50
    from latency.measure.modules import network_module

    torch.manual_seed(0)
    network = network_module(resnet50(64, 10))
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        x = network.stem(x)
        for stage in network.stages:
            x = stage(x)
            assert 0.1 < float(x.abs().mean()) < 10


def test_calibrate_batchnorm_sets_the_statistics_of_its_batch():
    import torch
    from torch import nn

    from designer.nn.calibrate import calibrate_batchnorm

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    batch = torch.randn(5, 3, 8, 8) * 3 + 1
    calibrate_batchnorm(model, batch)
    conv_out = model[0](batch)
    assert not model.training and model[1].momentum == 0.1
    assert torch.allclose(model[1].running_mean, conv_out.mean(dim=(0, 2, 3)), atol=1e-5)
    assert torch.allclose(model[1].running_var, conv_out.var(dim=(0, 2, 3)), rtol=1e-4)
