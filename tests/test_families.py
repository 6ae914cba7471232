"""Every registered block family, as timm's tests run over ``list_models()``: its layers, its
module, its design space and its place in the latency grid agree."""

import numpy as np
import pytest
from support.nets import count_module
from support.specs import tiny_family_spec

from designer.core.analysis import analyze_spec
from designer.core.blocks import get_family, list_families
from designer.core.space import SearchSpace
from designer.nn.model import build_model
from designer.nn.modules import MODULES


@pytest.mark.parametrize("family", list_families())
def test_family_has_a_module_with_the_counts_of_its_layers(family):
    assert family in MODULES
    spec = tiny_family_spec(family)
    analysis = analyze_spec(spec)
    assert count_module(build_model(spec), spec.resolution) == (analysis.flops, analysis.params)


@pytest.mark.parametrize("family", list_families())
def test_family_defaults_shape_its_design_space(family):
    block = get_family(family)
    space = SearchSpace.of(family, resolution=64, stages=3, max_width=256, max_depth=3, num_classes=10)
    assert space.kernel == block.kernel and space.activation == block.activation
    assert space.head_width == block.head_width and space.se == block.has_se
    point = {"stem": 16.0, "width1": float(space.widths[2]), "width2": float(space.widths[4])}
    point |= {"depth1": 2.0, "depth2": 1.0}
    spec = space.to_spec(point)
    evaluation = space.evaluate({name: np.array([value]) for name, value in point.items()})
    analysis = analyze_spec(spec, space.alpha, space.beta)
    assert (analysis.flops, analysis.params) == (evaluation.totals["macs"][0], evaluation.totals["params"][0])
    assert analysis.objective == pytest.approx(float(evaluation.objective[0]), rel=1e-12)
    assert count_module(build_model(spec), spec.resolution) == (analysis.flops, analysis.params)


@pytest.mark.parametrize("family", list_families())
def test_latency_grid_times_every_family(family):
    from latency.measure.grid import family_ops

    kinds = {op.kind for op in family_ops(family, 64)}
    assert {"conv_act", "avgpool", "linear"} <= kinds
