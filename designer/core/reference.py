"""Standard reference networks as specs, shaped exactly like torchvision's models.

ResNets are torchvision's v1.5 (stride on the 3x3 conv of the bottleneck, 1x1 projection
shortcuts); MobileNetV2 and EfficientNet-B0 follow torchvision's layer shapes (ReLU6 and
SiLU respectively, SE squeeze width a quarter of the block's input width).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from designer.core.errors import DesignerError
from designer.core.spec import ArchSpec, StageSpec, StemSpec

_RESNET_STEM = StemSpec(width=64, kernel=7, stride=2, pool=True)


def _resnet(name: str, block: str, depths: tuple[int, ...], resolution: int, classes: int) -> ArchSpec:
    expansion = 4 if block == "bottleneck" else 1
    stages = tuple(
        StageSpec(
            block=block,
            width=planes * expansion,
            depth=depth,
            stride=1 if index == 0 else 2,
            kernel=3,
            inner=planes if block == "bottleneck" else None,
        )
        for index, (planes, depth) in enumerate(zip((64, 128, 256, 512), depths))
    )
    return ArchSpec(resolution=resolution, stem=_RESNET_STEM, stages=stages, num_classes=classes, name=name)


def resnet18(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    return _resnet("resnet18", "basic", (2, 2, 2, 2), resolution, classes)


def resnet34(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    return _resnet("resnet34", "basic", (3, 4, 6, 3), resolution, classes)


def resnet50(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    return _resnet("resnet50", "bottleneck", (3, 4, 6, 3), resolution, classes)


def _mbconv_net(
    name: str,
    rows: Sequence[tuple[float, int, int, int, int]],
    se: bool,
    head: int,
    activation: str,
    resolution: int,
    classes: int,
) -> ArchSpec:
    stages = tuple(
        StageSpec(block="mbv2", width=width, depth=depth, stride=stride, kernel=kernel, expansion=t, se=se)
        for t, width, depth, stride, kernel in rows
    )
    return ArchSpec(
        resolution=resolution,
        stem=StemSpec(width=32),
        stages=stages,
        head_width=head,
        num_classes=classes,
        activation=activation,
        name=name,
    )


def mobilenet_v2(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    rows = [  # expansion, width, depth, stride, kernel (torchvision's table)
        (1, 16, 1, 1, 3),
        (6, 24, 2, 2, 3),
        (6, 32, 3, 2, 3),
        (6, 64, 4, 2, 3),
        (6, 96, 3, 1, 3),
        (6, 160, 3, 2, 3),
        (6, 320, 1, 1, 3),
    ]
    return _mbconv_net("mobilenet_v2", rows, False, 1280, "relu6", resolution, classes)


def efficientnet_b0(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    rows = [
        (1, 16, 1, 1, 3),
        (6, 24, 2, 2, 3),
        (6, 40, 2, 2, 5),
        (6, 80, 3, 2, 3),
        (6, 112, 3, 1, 5),
        (6, 192, 4, 2, 5),
        (6, 320, 1, 1, 3),
    ]
    return _mbconv_net("efficientnet_b0", rows, True, 1280, "silu", resolution, classes)


def _deepmad(
    name: str,
    stem: int,
    rows: Sequence[tuple[int, int, int, int, int]],
    resolution: int,
    classes: int,
    head: int | None = None,
) -> ArchSpec:
    """A published DeepMAD design: ``rows`` of (blocks, inner, out width, kernel, stride)."""
    mobile = head is not None
    stages = tuple(
        StageSpec(
            block="mbv2" if mobile else "bottleneck",
            width=width,
            depth=depth,
            stride=stride,
            kernel=kernel,
            inner=inner,
            se=mobile,
            se_style="deepmad" if mobile else "efficientnet",
        )
        for depth, inner, width, kernel, stride in rows
    )
    return ArchSpec(
        resolution=resolution,
        stem=StemSpec(width=stem),
        stages=stages,
        head_width=head,
        num_classes=classes,
        activation="silu" if mobile else "relu",
        name=name,
    )


# The published DeepMAD structures (alibaba/lightweight-neural-architecture-search, Apache-2.0:
# configs/classification/models/deepmad-*.txt), rows as (blocks, inner, out width, kernel, stride).
def deepmad_r18(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    rows = [(1, 40, 96, 5, 2), (6, 40, 384, 5, 2), (9, 64, 384, 5, 2), (10, 104, 1024, 3, 1), (12, 104, 672, 5, 2)]
    return _deepmad("deepmad_r18", 32, rows, resolution, classes)


def deepmad_r34(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    rows = [(1, 24, 128, 5, 2), (10, 48, 512, 5, 2), (13, 88, 896, 5, 2), (11, 104, 1024, 5, 1), (14, 128, 616, 5, 2)]
    return _deepmad("deepmad_r34", 24, rows, resolution, classes)


def deepmad_r50(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    rows = [(1, 40, 128, 5, 2), (11, 48, 512, 5, 2), (12, 88, 872, 5, 2), (13, 104, 1024, 5, 1), (15, 120, 1232, 5, 2)]
    return _deepmad("deepmad_r50", 32, rows, resolution, classes)


def deepmad_29m(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    rows = [(2, 240, 40, 5, 1), (4, 512, 85, 5, 2), (6, 800, 134, 5, 2), (6, 1208, 201, 5, 2), (5, 1872, 312, 5, 2)]
    return _deepmad("deepmad_29m", 40, rows, resolution, classes, head=1792)


def deepmad_50m(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    rows = [(7, 672, 112, 5, 2), (9, 1008, 168, 5, 2), (7, 1512, 252, 5, 2), (3, 2272, 378, 5, 2), (1, 3456, 576, 3, 1)]
    return _deepmad("deepmad_50m", 48, rows, resolution, classes, head=2048)


def deepmad_89m(resolution: int = 224, classes: int = 1000) -> ArchSpec:
    rows = [
        (10, 816, 136, 5, 2),
        (9, 1224, 204, 5, 2),
        (7, 1952, 326, 5, 2),
        (4, 2944, 490, 5, 2),
        (1, 4464, 744, 3, 1),
    ]
    return _deepmad("deepmad_89m", 56, rows, resolution, classes, head=2560)


REFERENCES: dict[str, Callable[..., ArchSpec]] = {
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "efficientnet_b0": efficientnet_b0,
    "deepmad_r18": deepmad_r18,
    "deepmad_r34": deepmad_r34,
    "deepmad_r50": deepmad_r50,
    "deepmad_29m": deepmad_29m,
    "deepmad_50m": deepmad_50m,
    "deepmad_89m": deepmad_89m,
}


def reference_spec(name: str, resolution: int = 224, classes: int = 1000) -> ArchSpec:
    try:
        factory = REFERENCES[name]
    except KeyError:
        raise DesignerError(f"unknown reference network {name!r}; use one of: {', '.join(REFERENCES)}") from None
    return factory(resolution, classes)
