"""``designer profile``'s defaults: what it chooses, that it says so, and that the profile records it."""

import types

import pytest

from designer.cli import main
from designer.workflows import profile as workflow
from latency.measure.grid import profile_ops
from latency.predict.table import LatencyTable

GIB = 2**30


@pytest.mark.parametrize(
    "module, expected",
    [
        (None, "torch"),  # TensorRT not installed
        (types.ModuleType("tensorrt"), "torch"),  # only its type stubs (tensorrt-stubs) import
        (types.SimpleNamespace(Builder=object, __version__="10.13.0"), "tensorrt"),
    ],
)
def test_the_backend_is_tensorrt_where_a_real_tensorrt_imports(monkeypatch, module, expected):
    monkeypatch.setitem(__import__("sys").modules, "tensorrt", module)
    choice = workflow.default_backend()
    assert choice.value == expected and ("10.13.0" in choice.why) == (expected == "tensorrt")


@pytest.mark.parametrize(
    "dense, precision, memory, expected",
    [
        (True, "fp16", 80 * GIB, 256),  # H100: the cap
        (True, "fp16", 141 * GIB, 256),  # H200: the cap, not the thousands that would fill it
        (False, "fp32", 16 * GIB, 128),  # V100 16 GB, fp32 (sparse grid): the TinyNAS tables' largest batch
        (True, "fp16", 16 * GIB, 64),
        (True, "fp32", 1 * GIB, 2),
    ],
)
def test_the_batch_is_the_largest_power_of_two_whose_largest_op_fits_in_half_the_memory(
    dense, precision, memory, expected
):
    ops = profile_ops(224, dense=dense)
    choice = workflow.default_batch(ops, precision, memory)

    def need(batch: int) -> int:
        return max(workflow.op_bytes(op, precision, batch) for op in ops)

    assert choice.value == expected
    assert need(expected) <= workflow.MEMORY_SHARE * memory and (
        expected == workflow.MAX_BATCH or need(2 * expected) > workflow.MEMORY_SHARE * memory
    )
    assert f"{memory / GIB:.0f} GiB" in choice.why


def test_cpus_get_a_small_batch():
    assert workflow.default_batch(profile_ops(32), "fp32", None).value == workflow.CPU_BATCH


def test_what_was_chosen_is_printed_and_recorded(tmp_path, capsys):
    path = tmp_path / "cpu-ort-fp32-b8.json"
    argv = ["profile", "--gpu", "cpu", "--backend", "onnxruntime", "--resolution", "32", "--limit", "2"]
    assert main([*argv, "--warmup", "0", "--repetitions", "1", "-o", str(path)]) == 0
    out = capsys.readouterr().out
    assert "precision fp32: TF32 off, as the DeepMAD paper's GPU-throughput tables" in out
    assert "batch 8: CPUs serve small batches" in out and "backend" not in out.split("timing")[0]
    table = LatencyTable.load(path)
    assert (table.precision, table.batch, len(table.entries)) == ("fp32", 8, 2)
    assert set(table.provenance["chosen"]) == {"precision", "batch"}
    assert table.provenance["chosen"]["batch"].startswith("8: CPUs serve small batches")


def test_where_the_device_cannot_be_measured_the_error_names_its_profiles(capsys):
    assert main(["profile", "--gpu", "v100", "--backend", "onnxruntime"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a v100 profile can only be measured on a v100" in err
    assert "v100 profiles exist already: v100-trt-fp16-b{1,32,64,128}, v100-trt-fp32-b{1,32,64,128}" in err
