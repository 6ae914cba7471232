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
``pool`` adds ResNet's 3x3 stride-2 max-pool after the stem conv.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from designer.core.blocks import SE_STYLES, get_family, list_families
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text

SPEC_VERSION = 1
ACTIVATIONS = ("relu", "relu6", "silu", "hardswish")
KERNELS = (1, 3, 5, 7)


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
    def from_dict(cls, data: Any) -> ArchSpec:
        if not isinstance(data, dict):
            raise DesignerError("an arch spec must be a JSON object; see designer/spec.py for the layout")
        _check_keys("arch spec", data, cls)
        version = data.get("version", SPEC_VERSION)
        if version != SPEC_VERSION:
            raise DesignerError(
                f"arch spec version {version} is not supported; this designer reads version {SPEC_VERSION}"
            )
        try:
            stem_data = data["stem"]
            stage_data = data["stages"]
            resolution = data["resolution"]
        except KeyError as missing:
            raise DesignerError(f"arch spec is missing {missing}; add it (see designer/spec.py)") from None
        if not isinstance(stem_data, dict):
            raise DesignerError("arch spec 'stem' must be an object like {\"width\": 32}")
        if not isinstance(stage_data, list) or not stage_data:
            raise DesignerError("arch spec 'stages' must be a non-empty list of stage objects")
        _check_keys("stem", stem_data, StemSpec)
        if "width" not in stem_data:
            raise DesignerError("arch spec 'stem' needs a 'width'")
        stages = []
        for index, stage in enumerate(stage_data):
            if not isinstance(stage, dict):
                raise DesignerError(f"stage {index} must be an object with block, width and depth")
            _check_keys(f"stage {index}", stage, StageSpec)
            try:
                stages.append(StageSpec(**stage))
            except TypeError as error:
                raise DesignerError(f"stage {index}: {error}; give block, width and depth") from None
        rest = {k: v for k, v in data.items() if k not in ("stem", "stages", "resolution", "version")}
        return cls(resolution=resolution, stem=StemSpec(**stem_data), stages=tuple(stages), **rest)

    @classmethod
    def from_json(cls, text: str) -> ArchSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise DesignerError(f"arch spec is not valid JSON ({error}); fix the file") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> ArchSpec:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise DesignerError(f"cannot read arch spec {path}: {error.strerror}; check the path") from None
        return cls.from_json(text)

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


def _check_keys(what: str, data: dict[str, Any], cls: type) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise DesignerError(f"{what} has unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}")


def _positive_int(what: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DesignerError(f"{what} must be a positive integer, got {value!r}")


def validate(spec: ArchSpec) -> None:
    """Raise :class:`DesignerError` naming the first problem with ``spec``."""
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
                or stage.expansion < 1
            ):
                raise DesignerError(f"{where}: expansion must be a number >= 1, got {stage.expansion!r}")
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
    if kernel not in KERNELS:
        raise DesignerError(f"{where} kernel must be one of {KERNELS}, got {kernel!r}")
    if stride not in (1, 2):
        raise DesignerError(f"{where} stride must be 1 or 2, got {stride!r}")
