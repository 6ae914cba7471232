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


REFERENCES: dict[str, Callable[..., ArchSpec]] = {
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "efficientnet_b0": efficientnet_b0,
}


def reference_spec(name: str, resolution: int = 224, classes: int = 1000) -> ArchSpec:
    try:
        factory = REFERENCES[name]
    except KeyError:
        raise DesignerError(f"unknown reference network {name!r}; use one of: {', '.join(REFERENCES)}") from None
    return factory(resolution, classes)
