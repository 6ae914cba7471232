"""Triton model repository: layout, config.pbtxt parsed strictly against Triton's schema, safe writes."""

from pathlib import Path

import onnx
import pytest

from designer.core.errors import DesignerError
from export.triton import TensorConfig, TritonModel, check_target, onnx_tensors, parse_config, write_repository

pytest.importorskip("tritonclient.grpc.model_config_pb2")  # the triton extra; installed with dev


def resnet_like(platform: str = "onnxruntime_onnx", name: str = "resnet") -> TritonModel:
    return TritonModel(
        name=name,
        platform=platform,
        inputs=(TensorConfig("input", (3, 224, 224)),),
        outputs=(TensorConfig("logits", (1000,)),),
        max_batch=64,
        preferred_batches=(16, 64),
        instances=2,
    )


def leftovers(repo: Path) -> list[str]:
    return sorted(p.name for p in repo.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("platform, filename", [("onnxruntime_onnx", "model.onnx"), ("tensorrt_plan", "model.plan")])
def test_repository_layout_and_config_fit_tritons_schema(tmp_path, platform, filename):
    from tritonclient.grpc import model_config_pb2 as schema

    target = write_repository(tmp_path, resnet_like(platform), b"model bytes")
    assert target == tmp_path / "resnet"
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*")) == [
        "1",
        f"1/{filename}",
        "README.md",
        "config.pbtxt",
    ]
    assert (target / "1" / filename).read_bytes() == b"model bytes"
    assert leftovers(tmp_path) == []

    config = parse_config((target / "config.pbtxt").read_text())
    assert (config.name, config.platform, config.max_batch_size) == ("resnet", platform, 64)
    (source,), (result,) = config.input, config.output
    assert (source.name, list(source.dims), source.data_type) == ("input", [3, 224, 224], schema.TYPE_FP32)
    assert (result.name, list(result.dims), result.data_type) == ("logits", [1000], schema.TYPE_FP32)
    assert list(config.dynamic_batching.preferred_batch_size) == [16, 64]
    assert config.dynamic_batching.max_queue_delay_microseconds > 0
    (group,) = config.instance_group
    assert (group.count, group.kind) == (2, schema.ModelInstanceGroup.KIND_GPU)

    readme = (target / "README.md").read_text()
    assert f"-v {tmp_path.resolve()}:/models" in readme and "tritonserver --model-repository=/models" in readme
    assert 'client.infer("resnet"' in readme and 'InferInput("input", list(batch.shape), "FP32")' in readme
    assert ("TensorRT version" in readme) == (platform == "tensorrt_plan") != ("KIND_CPU" in readme)


@pytest.mark.parametrize(
    "text, message",
    [
        ('name: "m"\nmax_batch_sizes: 4\n', "max_batch_sizes"),
        ('name: "m"\ninput [ { name: "x" data_type: TYPE_FP99 dims: [ 3 ] } ]\n', "TYPE_FP99"),
        ('name: "m"\ninstance_group [ { kind: KIND_TPU } ]\n', "KIND_TPU"),
    ],
)
def test_parse_config_rejects_unknown_fields_and_values(text, message):
    with pytest.raises(DesignerError, match=message):
        parse_config(text)


def test_existing_model_or_bad_name_or_count_is_refused_and_left_alone(tmp_path):
    (tmp_path / "resnet").mkdir()
    (tmp_path / "resnet" / "keep").write_text("served")
    with pytest.raises(DesignerError, match="already exists"):
        write_repository(tmp_path, resnet_like(), b"new")
    assert [p.name for p in (tmp_path / "resnet").iterdir()] == ["keep"]
    with pytest.raises(DesignerError, match="not a valid Triton model name"):
        check_target(tmp_path, "../escape")
    with pytest.raises(DesignerError, match="--instances"):
        check_target(tmp_path, "fresh", instances=0)
    assert leftovers(tmp_path) == [] and not (tmp_path / "fresh").exists()


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", fail)
    with pytest.raises(DesignerError, match="disk full"):
        write_repository(tmp_path, resnet_like(), b"model bytes")
    assert list(tmp_path.iterdir()) == []


def test_onnx_tensors_drop_the_batch_axis():
    make = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["input"], ["logits"])],
        "g",
        [make("input", onnx.TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [make("logits", onnx.TensorProto.FLOAT16, ["batch", 3, 8, 8])],
    )
    inputs, outputs = onnx_tensors(onnx.helper.make_model(graph))
    assert inputs == (TensorConfig("input", (3, 8, 8), "TYPE_FP32"),)
    assert outputs == (TensorConfig("logits", (3, 8, 8), "TYPE_FP16"),)
