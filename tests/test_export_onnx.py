"""ONNX export: batch-norm folding, every block family in onnxruntime vs PyTorch, metadata, loud failure."""

import numpy as np
import onnx
import pytest
import torch
from support.specs import tiny_family_spec, trained_like
from torch import nn

from designer.core.blocks import list_families
from designer.core.errors import DesignerError
from designer.nn.fold import fold_batchnorm
from export.onnx_export import (
    ARCH_KEY,
    DIGEST_KEY,
    INPUT,
    OPSET,
    OUTPUT,
    TOLERANCE,
    VERIFY_BATCHES,
    export_onnx,
    ort_session,
    random_input,
    read_spec,
    run_ort,
    verify_onnx,
)
from export.parity import Parity, check_parity
from export.source import Network


@pytest.mark.parametrize("family", list_families())
def test_fold_batchnorm_matches_unfolded_network(family):
    model = trained_like(tiny_family_spec(family))
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "the original must be left alone"
    x = torch.randn(4, 3, 32, 32)
    with torch.inference_mode():
        expected, actual = model(x), folded(x)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", list_families())
def test_every_family_exports_and_matches_pytorch_in_onnxruntime(family):
    spec = tiny_family_spec(family)
    model = trained_like(spec)
    onnx_model = export_onnx(Network(spec, model, trained=True))

    assert {op.domain: op.version for op in onnx_model.opset_import}[""] == OPSET
    assert [i.name for i in onnx_model.graph.input] == [INPUT]
    assert [o.name for o in onnx_model.graph.output] == [OUTPUT]
    dims = onnx_model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 32, 32]
    assert onnx_model.graph.output[0].type.tensor_type.shape.dim[0].dim_param == dims[0].dim_param
    assert "BatchNormalization" not in {node.op_type for node in onnx_model.graph.node}
    assert read_spec(onnx_model) == spec

    parity = verify_onnx(onnx_model, model, spec)
    assert [p.batch for p in parity] == list(VERIFY_BATCHES)
    assert all(p.rel <= TOLERANCE and p.max_abs > 0 for p in parity)

    session = ort_session(onnx_model.SerializeToString())
    x = random_input(spec, 5, seed=7)
    with torch.inference_mode():
        expected = model(x).numpy()
    assert Parity.between(run_ort(session, x.numpy()), expected).rel <= TOLERANCE  # a batch never seen

    other = trained_like(spec, seed=1)  # different weights: verification must refuse the model
    with pytest.raises(DesignerError, match="does not match its reference"):
        verify_onnx(onnx_model, other, spec)


def test_parity_is_relative_to_the_largest_reference_value_and_catches_nan():
    expected = np.array([[1.0, -4.0], [2.0, 0.5]])
    parity = Parity.between(expected + 0.01, expected)
    assert parity.batch == 2 and parity.max_abs == pytest.approx(0.01) and parity.rel == pytest.approx(0.0025)
    check_parity([parity], 0.003, "x")
    with pytest.raises(DesignerError, match="batch 2"):
        check_parity([parity], 0.002, "x")
    with pytest.raises(DesignerError):
        check_parity([Parity.between(expected * np.nan, expected)], 1.0, "x")


def test_read_spec_rejects_missing_or_tampered_metadata():
    spec = tiny_family_spec("basic")
    model = onnx.helper.make_model(onnx.helper.make_graph([], "empty", [], []))
    with pytest.raises(DesignerError, match="no designer spec"):
        read_spec(model)
    onnx.helper.set_model_props(model, {ARCH_KEY: spec.to_json(), DIGEST_KEY: "0" * 64})
    with pytest.raises(DesignerError, match="does not match its digest"):
        read_spec(model)
