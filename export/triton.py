"""A Triton Inference Server model repository entry for an exported network.

Layout (Triton's defaults, so ``config.pbtxt`` needs no file names)::

    REPO/NAME/config.pbtxt
    REPO/NAME/README.md            how to serve and call it
    REPO/NAME/1/model.onnx         platform onnxruntime_onnx, or
    REPO/NAME/1/model.plan         platform tensorrt_plan

The directory is assembled under a temporary name in ``REPO`` and renamed into place, so it
is complete or absent. The config is written as protobuf text and parsed back strictly against
Triton's ``ModelConfig`` schema (from ``tritonclient[grpc]``, the ``triton`` extra) before the rename.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import onnx

from designer.core.errors import DesignerError
from designer.core.fileio import os_reason, remove_stale_temps, temp_prefix
from export.deps import require

PLATFORMS = {"onnxruntime_onnx": "model.onnx", "tensorrt_plan": "model.plan"}
"""Triton platform -> the default model file name Triton looks for in a version directory."""
MAX_QUEUE_DELAY_US = 100
_DATA_TYPES: dict[int, str] = {onnx.TensorProto.FLOAT: "TYPE_FP32", onnx.TensorProto.FLOAT16: "TYPE_FP16"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class TensorConfig:
    """A model input or output as Triton sees it: ``dims`` exclude the batch axis."""

    name: str
    dims: tuple[int, ...]
    data_type: str = "TYPE_FP32"

    def render(self) -> str:
        dims = ", ".join(str(d) for d in self.dims)
        return f'  {{\n    name: "{self.name}"\n    data_type: {self.data_type}\n    dims: [ {dims} ]\n  }}'


@dataclass(frozen=True)
class TritonModel:
    name: str
    platform: str
    inputs: tuple[TensorConfig, ...]
    outputs: tuple[TensorConfig, ...]
    max_batch: int
    preferred_batches: tuple[int, ...]
    instances: int = 1

    @property
    def filename(self) -> str:
        return PLATFORMS[self.platform]

    def config(self) -> str:
        """``config.pbtxt``: batching, named tensors, dynamic batching and one GPU instance group."""
        preferred = ", ".join(str(b) for b in self.preferred_batches)
        inputs = ",\n".join(t.render() for t in self.inputs)
        outputs = ",\n".join(t.render() for t in self.outputs)
        return (
            f'name: "{self.name}"\n'
            f'platform: "{self.platform}"\n'
            f"max_batch_size: {self.max_batch}\n"
            f"input [\n{inputs}\n]\n"
            f"output [\n{outputs}\n]\n"
            "dynamic_batching {\n"
            f"  preferred_batch_size: [ {preferred} ]\n"
            f"  max_queue_delay_microseconds: {MAX_QUEUE_DELAY_US}\n"
            "}\n"
            "instance_group [\n"
            f"  {{\n    count: {self.instances}\n    kind: KIND_GPU\n  }}\n"
            "]\n"
        )

    def readme(self, repo: Path) -> str:
        """How to serve ``repo`` (the repository holding this model) and a client call."""
        source, target = self.inputs[0], self.outputs[0]
        shape = ", ".join(str(d) for d in (1, *source.dims))
        note = (
            "A TensorRT plan runs only on the GPU model and TensorRT version it was built with: use the "
            "Triton release whose TensorRT version matches (NVIDIA's framework support matrix lists them)."
            if self.platform == "tensorrt_plan"
            else "To serve on CPU, set `kind: KIND_CPU` in the `instance_group` of `config.pbtxt`."
        )
        return f"""# {self.name}

Exported by `designer export` for Triton Inference Server (platform `{self.platform}`, max batch
{self.max_batch}, dynamic batching preferring batches of {", ".join(map(str, self.preferred_batches))}).
Serve the model repository that holds this directory:

```
docker run --gpus all --rm -p 8000:8000 -p 8001:8001 -p 8002:8002 -v {repo.resolve()}:/models \\
    nvcr.io/nvidia/tritonserver:<yy.mm>-py3 tritonserver --model-repository=/models
```

{note}

Client (`pip install 'tritonclient[http]'`):

```python
import numpy as np
import tritonclient.http as httpclient

client = httpclient.InferenceServerClient("localhost:8000")
batch = np.random.rand({shape}).astype(np.float32)
request = httpclient.InferInput("{source.name}", list(batch.shape), "FP32")
request.set_data_from_numpy(batch)
result = client.infer("{self.name}", [request], outputs=[httpclient.InferRequestedOutput("{target.name}")])
print(result.as_numpy("{target.name}").argmax(1))
```
"""


def check_target(repo: Path, name: str, instances: int = 1) -> Path:
    """``repo/name`` after checking the name, the instance count and that nothing is there yet.

    An existing model directory is never replaced: Triton may be serving it.
    """
    if not _NAME.fullmatch(name):
        raise DesignerError(f"model name {name!r} is not a valid Triton model name; use letters, digits, '_', '-', '.'")
    if instances < 1:
        raise DesignerError(f"--instances must be a positive integer, got {instances}")
    target = Path(repo) / name
    if target.exists():
        raise DesignerError(f"{target} already exists; remove it or pick another --name")
    return target


def onnx_tensors(model: onnx.ModelProto) -> tuple[tuple[TensorConfig, ...], tuple[TensorConfig, ...]]:
    """Inputs and outputs of ``model`` (first axis the batch) as Triton tensor configs."""

    def config(value: onnx.ValueInfoProto) -> TensorConfig:
        tensor = value.type.tensor_type
        if tensor.elem_type not in _DATA_TYPES:
            raise DesignerError(f"tensor {value.name!r} has ONNX type {tensor.elem_type}; export float32 or float16")
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim[1:])
        return TensorConfig(value.name, dims, _DATA_TYPES[tensor.elem_type])

    return tuple(map(config, model.graph.input)), tuple(map(config, model.graph.output))


def model_config_schema() -> ModuleType:
    """Triton's ``model_config_pb2`` (``ModelConfig`` and friends) from ``tritonclient[grpc]``."""
    return require("tritonclient.grpc.model_config_pb2", "install it with pip install 'designer[triton]'")


def parse_config(text: str) -> Any:
    """``config.pbtxt`` parsed strictly into Triton's ``ModelConfig`` (unknown fields or values fail)."""
    from google.protobuf import text_format

    try:
        return text_format.Parse(text, model_config_schema().ModelConfig())
    except text_format.ParseError as error:
        raise DesignerError(f"config.pbtxt does not fit Triton's model config schema ({error})") from None


def write_repository(repo: Path, model: TritonModel, payload: bytes, version: int = 1) -> Path:
    """Write ``repo/model.name`` with ``payload`` as version ``version``; returns the model directory."""
    target = check_target(repo, model.name, model.instances)
    config = model.config()
    parse_config(config)
    try:
        repo.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target)
        temp = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=".tmp", dir=repo))
    except OSError as error:
        raise DesignerError(
            f"cannot write to the Triton repository {repo}: {os_reason(error)}; choose another"
        ) from None
    try:
        (temp / str(version)).mkdir()
        (temp / str(version) / model.filename).write_bytes(payload)
        (temp / "config.pbtxt").write_text(config)
        (temp / "README.md").write_text(model.readme(repo))
        os.chmod(temp, 0o755)  # mkdtemp makes it private; Triton containers often run as another user
        os.rename(temp, target)
    except BaseException as error:
        shutil.rmtree(temp, ignore_errors=True)
        if isinstance(error, OSError):
            raise DesignerError(f"cannot write {target}: {os_reason(error)}; free space or choose another") from None
        raise
    return target
