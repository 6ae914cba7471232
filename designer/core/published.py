"""Reading the published DeepMAD structure files (TinyNAS's ``best_structures`` text format).

A file holds a Python literal: ``{'best_structures': [[block, ...]], ...}`` or the bare list of
blocks, each a dict with a ``class``. The classes map onto this project's families:

=====================  ==============================================================
``ConvKXBNRELU``       the stem (first) or a 1x1 head conv before pooling (last)
``SuperResK1KXK1``     ``L`` bottleneck blocks: ``out`` wide, ``btn`` inner width
``SuperResKXKX``       ``L`` basic blocks
``SuperResK1DWSEK1``   ``L`` inverted residuals with the published SE (``se_style`` deepmad),
                       ``btn`` hidden width
``SuperResK1DWK1``     the same without SE
=====================  ==============================================================

Blocks keep this project's conventions (a projection shortcut where the shape changes; the
published ResNet-family code projects every stage's first block, and its inverted residuals
apply SiLU after the add), so counts and entropy are this project's.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from designer.core.errors import DesignerError
from designer.core.spec import ArchSpec, StageSpec, StemSpec

STAGES = {  # class: (family, squeeze-and-excitation)
    "SuperResK1KXK1": ("bottleneck", False),
    "SuperResKXKX": ("basic", False),
    "SuperResK1DWSEK1": ("mbv2", True),
    "SuperResK1DWK1": ("mbv2", False),
}
CONV = "ConvKXBNRELU"
MAX_TEXT = 1_000_000


def parse_structure(text: str, name: str = "", resolution: int = 224, num_classes: int = 1000) -> ArchSpec:
    """The spec of a published structure given as text (see the module docstring)."""
    if len(text) > MAX_TEXT:
        raise DesignerError(f"structure {name or ''} is over {MAX_TEXT:,} characters; give a TinyNAS structure file")
    try:
        data = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise DesignerError(
            f"structure {name} is not a Python literal of blocks; give a TinyNAS structure file"
        ) from None
    if isinstance(data, dict):
        data = data.get("best_structures")
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], list):
            data = data[0]
    if not isinstance(data, list) or len(data) < 2 or not all(isinstance(block, dict) for block in data):
        raise DesignerError(f"structure {name} needs a list of block dicts ('best_structures': [[...]])")
    return _spec(data, name, resolution, num_classes)


def read_structure(path: str | Path, resolution: int = 224, num_classes: int = 1000) -> ArchSpec:
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise DesignerError(f"cannot read structure {path}: {error}; check the path") from None
    return parse_structure(text, path.stem, resolution, num_classes)


def _field(block: dict[str, Any], key: str, where: str) -> int:
    value = block.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DesignerError(f"{where}: '{key}' must be a positive whole number, got {value!r}")
    return value


def _spec(blocks: list[dict[str, Any]], name: str, resolution: int, num_classes: int) -> ArchSpec:
    first, *body = blocks
    if first.get("class") != CONV:
        raise DesignerError(f"structure {name}: the first block must be the {CONV} stem, got {first.get('class')!r}")
    stem = StemSpec(_field(first, "out", "stem"), _field(first, "k", "stem"), _field(first, "s", "stem"))
    head = None
    if body and body[-1].get("class") == CONV:
        head = _field(body[-1], "out", "head")
        body = body[:-1]
    stages = []
    width = stem.width
    for index, block in enumerate(body, start=1):
        where = f"structure {name} block {index}"
        kind = block.get("class")
        if kind not in STAGES:
            raise DesignerError(f"{where}: class {kind!r} is not one of {', '.join([CONV, *STAGES])}")
        if _field(block, "in", where) != width:
            raise DesignerError(f"{where}: 'in' is {block['in']} but the block before gives {width}; fix the chain")
        family, se = STAGES[kind]
        stages.append(
            StageSpec(
                family,
                _field(block, "out", where),
                _field(block, "L", where),
                _field(block, "s", where),
                _field(block, "k", where),
                inner=_field(block, "btn", where) if family != "basic" else None,
                se=se,
                se_style="deepmad" if se else "efficientnet",
            )
        )
        width = stages[-1].width
    if not stages:
        raise DesignerError(f"structure {name} has no SuperRes blocks")
    activation = "silu" if stages[0].block == "mbv2" else "relu"
    return ArchSpec(
        resolution=resolution,
        stem=stem,
        stages=tuple(stages),
        head_width=head,
        num_classes=num_classes,
        in_channels=_field(first, "in", "stem"),
        activation=activation,
        name=name,
    )
