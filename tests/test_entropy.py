import math

import numpy as np
import pytest

from designer.core.analysis import analyze_spec
from designer.core.entropy import DepthPenalty, effectiveness, stage_weights
from designer.core.reference import reference_spec
from designer.core.spec import ArchSpec, StageSpec, StemSpec
from designer.nn.model import build_model
from designer.nn.walk import analyze_module


def tiny() -> ArchSpec:
    return ArchSpec(resolution=8, stem=StemSpec(width=4), stages=(StageSpec("basic", width=8, depth=1),), num_classes=2)


def test_hand_computed_two_stage_network():
    # stem conv 3->4 k3 s2 (w=27) at 4x4; basic block conv 4->8 k3 s2 (w=36), conv 8->8 k3 (w=72) at 2x2.
    analysis = analyze_spec(tiny())
    h1 = math.log(4 * 4 * 4) * math.log(27)
    h2 = math.log(2 * 2 * 8) * (math.log(27) + math.log(36) + math.log(72))
    report = analysis.report
    assert [(s.res, s.channels, s.layers) for s in report.stages] == [(4, 4, 1), (2, 8, 2)]
    assert report.entropy == pytest.approx(1 * h1 + 8 * h2)
    assert report.depth == 3
    assert report.mean_width == pytest.approx((27 * 36 * 72) ** (1 / 3))
    assert report.rho == pytest.approx(3 / (27 * 36 * 72) ** (1 / 3))
    assert analysis.objective == pytest.approx(report.entropy - 10.0)  # one stage: Var = 0


def test_projection_se_and_classifier_are_not_main_layers():
    spec = ArchSpec(
        resolution=16,
        stem=StemSpec(width=8),
        stages=(StageSpec("mbv2", width=16, depth=1, expansion=2, se=True, kernel=3),),
        num_classes=3,
    )
    # main: stem (27), expand 8->16 (8), depthwise k3 (9), project 16->16 (16); SE and classifier excluded
    report = analyze_spec(spec).report
    assert report.depth == 4
    assert report.mean_width == pytest.approx((27 * 8 * 9 * 16) ** 0.25)


def test_resnet_stages_follow_downsampling():
    report = analyze_spec(reference_spec("resnet50")).report
    assert [s.res for s in report.stages] == [112, 56, 28, 14, 7]
    assert [s.channels for s in report.stages] == [64, 256, 512, 1024, 2048]
    assert [s.layers for s in report.stages] == [1, 9, 12, 18, 9]  # a block's 1x1 reduce joins its block's stage


def test_module_walker_matches_spec_analysis():
    for name in ("resnet50", "efficientnet_b0"):
        spec = reference_spec(name)
        from_spec = analyze_spec(spec)
        walked = analyze_module(build_model(spec))
        assert (walked.flops, walked.params, walked.report.depth) == (
            from_spec.flops,
            from_spec.params,
            from_spec.report.depth,
        )
        assert walked.report.entropy == pytest.approx(from_spec.report.entropy)
        assert walked.report.rho == pytest.approx(from_spec.report.rho)


def test_helpers():
    assert stage_weights(5, (1, 1, 1, 1, 8)) == (1, 1, 1, 1, 8)
    assert stage_weights(3, (1, 1, 1, 1, 8)) == (1, 1, 8)
    assert stage_weights(6, (1, 1, 1, 1, 8)) == (1, 1, 1, 1, 1, 8)
    assert effectiveness(4, 4 * math.log(100)) == pytest.approx(0.04)
    assert DepthPenalty(10, "var")(np.array([2, 4])) == pytest.approx(10 * math.e)


def test_depth_penalties_of_the_paper_and_the_published_code():
    """The published R50's block counts: the paper's form costs more than any entropy, the code's
    (std over the stages after the second) about 35."""
    depths = np.array([1, 11, 12, 13, 15])
    assert DepthPenalty(10, "var")(depths) == pytest.approx(10 * math.exp(np.var(depths)))
    assert DepthPenalty(10, "var")(depths) > 1e11
    assert DepthPenalty(10, "std", skip=2)(depths) == pytest.approx(10 * math.exp(np.std([12, 13, 15])))
    assert DepthPenalty(10, "std", skip=2)(depths) == pytest.approx(34.8, abs=0.05)
    assert DepthPenalty(10, "std", skip=9)(depths) == pytest.approx(10.0)  # no stage left to vary: the last alone


@pytest.mark.parametrize("kind", ["var", "std"])
def test_the_least_penalty_of_a_box_is_its_least_over_real_depths(kind):
    """Random boxes of three block counts: the bound is never above the penalty of an integer
    depth in the box, and it is the least over real depths (a grid of quarter blocks finds no
    variance more than that grid's rounding below the bound's)."""
    penalty = DepthPenalty(beta=10.0, kind=kind)
    rng = np.random.default_rng(0)
    lows = rng.integers(1, 12, size=(40, 3)).astype(float)
    highs = lows + rng.integers(0, 6, size=(40, 3))
    least = penalty.least(lows, highs)
    for low, high, bound in zip(lows, highs, least):
        integers = np.stack(np.meshgrid(*[np.arange(a, b + 1) for a, b in zip(low, high)]), -1).reshape(-1, 3)
        assert bound <= penalty(integers).min() * (1 + 1e-12)
        reals = np.stack(np.meshgrid(*[np.arange(a, b + 0.01, 0.25) for a, b in zip(low, high)]), -1).reshape(-1, 3)
        finest = np.var(reals, axis=-1).min()
        assert penalty.of_variance(max(finest - 0.1, 0.0)) <= bound <= penalty.of_variance(finest) * (1 + 1e-12)
