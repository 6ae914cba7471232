"""FLOPs and params from the spec equal what counting the built module gives."""

import pytest
from support.nets import count_module

from designer.core.analysis import analyze_spec
from designer.core.reference import reference_spec
from designer.core.spec import ArchSpec, StageSpec, StemSpec
from designer.nn.model import build_model

PUBLISHED = {  # torchvision's parameter counts and MACs at 224x224
    "resnet18": (11_689_512, 1.814e9),
    "resnet34": (21_797_672, 3.664e9),
    "resnet50": (25_557_032, 4.089e9),
    "mobilenet_v2": (3_504_872, 0.3008e9),
    "efficientnet_b0": (5_288_548, 0.3858e9),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_reference_networks_match_published_counts_and_module(name):
    spec = reference_spec(name)
    analysis = analyze_spec(spec)
    params, macs = PUBLISHED[name]
    assert analysis.params == params
    assert analysis.flops == pytest.approx(macs, rel=1e-3)
    assert count_module(build_model(spec), spec.resolution) == (analysis.flops, analysis.params)


@pytest.mark.parametrize(
    "stage",
    [
        StageSpec("basic", width=48, depth=2, kernel=3),
        StageSpec("basic", width=32, depth=3, kernel=5, stride=1),
        StageSpec("bottleneck", width=96, depth=2, inner=24, kernel=3),
        StageSpec("bottleneck", width=64, depth=1, inner=40, kernel=7),
        StageSpec("mbv2", width=40, depth=3, expansion=4, kernel=5, se=True),
        StageSpec("mbv2", width=32, depth=2, expansion=1, kernel=3, stride=1),
        StageSpec("mbv2", width=56, depth=2, inner=120, kernel=3, se=True),
    ],
)
def test_every_family_counts_match_module(stage):
    spec = ArchSpec(resolution=40, stem=StemSpec(width=32), stages=(stage, StageSpec("basic", 64, 1)), num_classes=7)
    analysis = analyze_spec(spec)
    assert count_module(build_model(spec), 40) == (analysis.flops, analysis.params)


def test_head_conv_and_stem_pool_are_counted():
    spec = ArchSpec(
        resolution=64,
        stem=StemSpec(width=16, kernel=7, pool=True),
        stages=(StageSpec("mbv2", 24, 2, expansion=6, se=True),),
        head_width=128,
        num_classes=5,
    )
    analysis = analyze_spec(spec)
    assert count_module(build_model(spec), 64) == (analysis.flops, analysis.params)
