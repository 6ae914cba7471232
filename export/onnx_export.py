"""PyTorch network to ONNX: batch-norm folded, dynamic batch axis, checked, simplified, verified.

The model comes from ``torch.onnx.export``'s torch.export-based exporter (needs ``onnxscript``;
the TorchScript-based one is deprecated since PyTorch 2.9), is simplified with ``onnxslim``
(constant folding, shape-op elimination) and checked with ``onnx.checker``; the spec and its
digest are kept in the model's metadata (``read_spec`` reads them back). ``verify_onnx`` runs
the model in onnxruntime at two batch sizes and compares it with the unfolded PyTorch network.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from designer.core.errors import DesignerError
from designer.core.spec import ArchSpec
from designer.nn.fold import fold_batchnorm
from export.deps import require
from export.parity import Parity, check_parity
from export.source import Network

OPSET = 20
INPUT = "input"
OUTPUT = "logits"
BATCH_AXIS = "batch"
TOLERANCE = 1e-3
"""Largest relative error (max abs error / max abs PyTorch logit) an fp32 export may have."""
VERIFY_BATCHES = (1, 3)
TRACE_BATCH = 2
"""Batch of the tracing example: neither verification batch, so neither is baked into the graph."""
ARCH_KEY, DIGEST_KEY, WEIGHTS_KEY = "designer.arch", "designer.digest", "designer.weights"


def random_input(spec: ArchSpec, batch: int, seed: int = 0) -> torch.Tensor:
    """A reproducible standard-normal batch at the spec's resolution."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution, generator=generator)


def export_onnx(network: Network) -> onnx.ModelProto:
    """The checked, simplified ONNX model of ``network`` with its spec in the metadata."""
    require("onnxscript", "install it with pip install onnxscript (torch.onnx's exporter needs it)")
    onnxslim = require("onnxslim", "install it with pip install onnxslim")
    folded = fold_batchnorm(network.model)
    example = random_input(network.spec, TRACE_BATCH)
    with _quiet_exporter():
        program = torch.onnx.export(
            folded,
            (example,),
            dynamo=True,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_shapes=({0: torch.export.Dim(BATCH_AXIS, min=1)},),
            opset_version=OPSET,
            optimize=False,  # onnxslim below does the simplification, and faster
            verbose=False,
        )
    assert program is not None  # the torch.export-based exporter always returns its program
    model: onnx.ModelProto = onnxslim.slim(program.model_proto)
    model.graph.name = network.spec.name or "designer"
    onnx.helper.set_model_props(
        model,
        {
            ARCH_KEY: json.dumps(network.spec.to_dict(), separators=(",", ":")),
            DIGEST_KEY: network.spec.digest(),
            WEIGHTS_KEY: "trained" if network.trained else "untrained (random initialisation)",
        },
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def read_spec(model: onnx.ModelProto) -> ArchSpec:
    """The spec recorded by :func:`export_onnx`, checked against its recorded digest."""
    props = {prop.key: prop.value for prop in model.metadata_props}
    if ARCH_KEY not in props:
        raise DesignerError("this ONNX model has no designer spec in its metadata; export it with designer export")
    spec = ArchSpec.from_json(props[ARCH_KEY])
    if spec.digest() != props.get(DIGEST_KEY):
        raise DesignerError("the spec in this ONNX model's metadata does not match its digest; re-export the model")
    return spec


def ort_session(model: bytes | str, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU session (``threads`` intra-op threads; None lets onnxruntime choose)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def run_ort(session: ort.InferenceSession, batch: np.ndarray) -> np.ndarray:
    return np.asarray(session.run([OUTPUT], {INPUT: batch})[0])


def verify_onnx(model: onnx.ModelProto, reference: nn.Module, spec: ArchSpec) -> list[Parity]:
    """Compare onnxruntime with ``reference`` (eval mode) at each of ``VERIFY_BATCHES``; raise past tolerance."""
    session = ort_session(model.SerializeToString())
    parities = []
    reference = reference.eval()
    for batch in VERIFY_BATCHES:
        x = random_input(spec, batch, seed=batch)
        with torch.inference_mode():
            expected = reference(x).numpy()
        parities.append(Parity.between(run_ort(session, x.numpy()), expected))
    check_parity(parities, TOLERANCE, "the exported ONNX model")
    return parities


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's deprecation chatter and its notes about absent torchvision ops."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
