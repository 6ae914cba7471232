"""The architecture spec: a plain, versioned, JSON-serialisable description of a network.

A spec is data only. ``designer.core.structure`` expands it into blocks and layers, the cost model
and entropy read those, and ``designer.nn.model.build_model`` turns it into an ``nn.Module``.

JSON layout (version 1)::

    {"version": 1, "name": "...", "resolution": 224, "in_channels": 3, "num_classes": 1000,
     "activation": "relu",
     "stem": {"width": 32, "kernel": 3, "stride": 2, "pool": false},
     "stages": [{"block": "bottleneck", "width": 256, "depth": 3, "stride": 2,
                 "kernel": 3, "inner": 64, "expansion": null, "se": false}, ...],
     (a stage with ``"se": true`` also has ``"se_style"``: ``"efficientnet"`` or ``"deepmad"``)
     "head_width": null}

``head_width`` adds a 1x1 conv before global pooling (MobileNetV2's 1280-wide head);
``pool`` adds ResNet's 3x3 stride-2 max-pool after the stem conv. Files are read strictly
(:mod:`designer.core.parse`: a field of a new version of these classes needs no parsing code),
and sizes are bounded (:data:`MAX_SIZE`), so a typo cannot ask for a terabyte network.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from designer.core.blocks import SE_STYLES, get_family, list_families
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.parse import build, loads, read_json

SPEC_VERSION = 1
ACTIVATIONS = ("relu", "relu6", "silu", "hardswish")
KERNELS = (1, 3, 5, 7)
MAX_SIZE = 1 << 16
"""Largest width, depth, resolution, channel or class count a spec may give (65,536)."""
MAX_EXPANSION = 64
"""Largest expansion ratio (MobileNetV2 uses 6, bottlenecks 4)."""
MAX_SPEC_BYTES = 1 << 20
"""Largest arch spec file read (a spec of a hundred stages is a few kilobytes)."""


@dataclass(frozen=True)
class StemSpec:
    width: int
    kernel: int = 3
    stride: int = 2
    pool: bool = False


@dataclass(frozen=True)
class StageSpec:
    """``depth`` blocks of one family; the first has ``stride`` and takes the previous width."""

    block: str
    width: int
    depth: int
    stride: int = 2
    kernel: int = 3
    inner: int | None = None
    expansion: float | None = None
    se: bool = False
    se_style: str = "efficientnet"
    """The SE convention (:data:`designer.core.blocks.SE_STYLES`); written to JSON only with ``se``."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.se:
            del data["se_style"]
        return data


@dataclass(frozen=True)
class ArchSpec:
    resolution: int
    stem: StemSpec
    stages: tuple[StageSpec, ...]
    head_width: int | None = None
    num_classes: int = 1000
    in_channels: int = 3
    activation: str = "relu"
    name: str = ""
    version: int = SPEC_VERSION

    def __post_init__(self) -> None:
        validate(self)

    # --- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages"] = [stage.to_dict() for stage in self.stages]
        return {"version": data.pop("version"), "name": data.pop("name"), **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any, where: str = "arch spec") -> ArchSpec:
        """The spec of a JSON object, every field checked strictly (:mod:`designer.core.parse`)."""
        version = data.get("version") if isinstance(data, dict) else None
        if type(version) is int and version != SPEC_VERSION:  # before the fields: another version has others
            raise DesignerError(f"{where}: {_version_problem(version)}")
        return build(cls, data, where)

    @classmethod
    def from_json(cls, text: str, where: str = "arch spec") -> ArchSpec:
        return cls.from_dict(loads(text, where), where)

    @classmethod
    def load(cls, path: str | Path) -> ArchSpec:
        return cls.from_dict(read_json(path, "arch spec", MAX_SPEC_BYTES), f"arch spec {path}")

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), self.to_json())

    def digest(self) -> str:
        """SHA-256 of the canonical JSON (sorted keys, no name): identifies the network."""
        data = self.to_dict()
        data.pop("name")
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def with_name(self, name: str) -> ArchSpec:
        return replace(self, name=name)


def _version_problem(version: Any) -> str:
    return f"version {_clip(version)} is not supported; this designer reads version {SPEC_VERSION}"


def _clip(value: Any) -> str:
    text = repr(value) if isinstance(value, (int, float, str)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _positive_int(what: str, value: Any, high: int = MAX_SIZE) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise DesignerError(f"{what} must be a positive integer of at most {high:,}, got {_clip(value)}")


def validate(spec: ArchSpec) -> None:
    """Raise :class:`DesignerError` naming the first problem with ``spec``."""
    if spec.version != SPEC_VERSION:
        raise DesignerError(_version_problem(spec.version))
    _positive_int("resolution", spec.resolution)
    _positive_int("in_channels", spec.in_channels)
    _positive_int("num_classes", spec.num_classes)
    if spec.activation not in ACTIVATIONS:
        raise DesignerError(f"activation {spec.activation!r} is not supported; use one of {', '.join(ACTIVATIONS)}")
    _positive_int("stem width", spec.stem.width)
    _check_conv("stem", spec.stem.kernel, spec.stem.stride)
    if spec.head_width is not None:
        _positive_int("head_width", spec.head_width)
    if not spec.stages:
        raise DesignerError("a spec needs at least one stage")
    for index, stage in enumerate(spec.stages):
        where = f"stage {index}"
        family = get_family(stage.block)
        _positive_int(f"{where} width", stage.width)
        _positive_int(f"{where} depth", stage.depth)
        _check_conv(where, stage.kernel, stage.stride)
        if family.uses_inner and stage.inner is not None:
            _positive_int(f"{where} inner", stage.inner)
        if not family.uses_inner and stage.inner is not None:
            raise DesignerError(f"{where}: block {stage.block!r} has no inner width; remove 'inner'")
        if family.uses_expansion:
            if (stage.inner is None) == (stage.expansion is None):
                raise DesignerError(f"{where}: an {stage.block} stage needs exactly one of 'expansion' or 'inner'")
            if stage.expansion is not None and (
                isinstance(stage.expansion, bool)
                or not isinstance(stage.expansion, (int, float))
                or not 1 <= stage.expansion <= MAX_EXPANSION
            ):
                raise DesignerError(
                    f"{where}: expansion must be a number from 1 to {MAX_EXPANSION}, got {_clip(stage.expansion)}"
                )
        elif stage.expansion is not None:
            raise DesignerError(f"{where}: block {stage.block!r} has no expansion ratio; remove 'expansion'")
        elif family.uses_inner and stage.inner is None:
            raise DesignerError(f"{where}: a {stage.block} stage needs 'inner' (its bottleneck width)")
        if stage.se_style not in SE_STYLES:
            raise DesignerError(f"{where}: se_style {stage.se_style!r} is not one of {', '.join(SE_STYLES)}")
        if stage.se and not family.has_se:
            families = ", ".join(name for name in list_families() if get_family(name).has_se)
            raise DesignerError(f"{where}: SE is available for {families} blocks only; set se to false")
    strides = [spec.stem.stride, 2 if spec.stem.pool else 1, *(s.stride for s in spec.stages)]
    steps = sum(stride == 2 for stride in strides)
    res = spec.resolution
    for stride in strides:
        if stride == 2 and res < 2:
            raise DesignerError(
                f"resolution {spec.resolution} is too small for {steps} down-sampling steps "
                f"(it down-samples below 1x1); use a resolution of at least {2**steps}"
            )
        res = (res + stride - 1) // stride


def _check_conv(where: str, kernel: Any, stride: Any) -> None:
    if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel not in KERNELS:
        raise DesignerError(f"{where} kernel must be one of {KERNELS}, got {_clip(kernel)}")
    if isinstance(stride, bool) or not isinstance(stride, int) or stride not in (1, 2):
        raise DesignerError(f"{where} stride must be 1 or 2, got {_clip(stride)}")
