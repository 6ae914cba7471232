"""Export a timed module (an op or a network) to ONNX, for the onnxruntime and TensorRT backends."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

OPSET = 17


def to_onnx(module: nn.Module, inputs: list[torch.Tensor], names: list[str]) -> bytes:
    """ONNX bytes of ``module`` at the inputs' fixed shapes.

    The TorchScript-based exporter: a profile exports thousands of single ops, and it does
    each far faster than the torch.export-based one (``export.onnx_export``). It is deprecated
    but still part of PyTorch.
    """
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        path = Path(folder) / "model.onnx"
        torch.onnx.export(
            module.eval(),
            tuple(inputs),
            path,
            dynamo=False,
            opset_version=OPSET,
            input_names=names,
            output_names=["y"],
        )
        return path.read_bytes()


def input_names(count: int) -> list[str]:
    return ["x", "residual"][:count]
