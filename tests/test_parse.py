"""Strict parsing of the files the tool reads, and property-based fuzzing of the spec and profile parsers.

The property: any text gives either a valid object (which the rest of the tool can use: a spec
analyses and round-trips, a profile round-trips) or a single-line :class:`DesignerError`, never
another exception. The fuzz runs a fixed number of examples per parser (well inside a minute).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.core.analysis import analyze_spec
from designer.core.errors import DesignerError
from designer.core.parse import build, loads
from designer.core.reference import reference_spec
from designer.core.spec import ArchSpec, StageSpec, StemSpec
from latency.predict.ops import OpKey
from latency.predict.table import LatencyTable

FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], database=None
)

MIXED = ArchSpec(
    resolution=64,
    stem=StemSpec(width=16, pool=True),
    stages=(
        StageSpec("bottleneck", width=64, depth=2, inner=16, kernel=5),
        StageSpec("mbv2", width=96, depth=2, expansion=3, se=True),
        StageSpec("basic", width=128, depth=1),
    ),
    head_width=256,
    num_classes=10,
    activation="silu",
    name="mixed",
)
BASES = [MIXED.to_dict(), reference_spec("resnet18", 64).to_dict(), reference_spec("mobilenet_v2", 64).to_dict()]

PROFILE = LatencyTable(
    "x1",
    "onnxruntime",
    "fp32",
    8,
    {"device_name": "cpu", "date": "2025-01-01", "method": "test", "repetitions": 3},
    {
        OpKey("conv_act", 16, 32, 32, 3, 1): 0.5,
        OpKey("conv_act", 32, 16, 64, 3, 2): 0.4,
        OpKey("dwconv_act", 32, 16, 32, 3, 1): 0.1,
        OpKey("avgpool", 64, 8, 64, 0, 0): 0.01,
        OpKey("linear", 64, 1, 10, 1, 1): 0.02,
    },
)

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
NEAR_VALID = st.sampled_from(
    [0, 1, 2, 3, 5, 7, 8, 2.0, 1.5, -1, 65536, 65537, 10**9, 10**30, True, False, None, "2", "true", "no", ""]
    + ["relu", "silu", "basic", "bottleneck", "mbv2", "conv_act", "avgpool", "onnxruntime", "fp32", [], {}]
)
JSON = st.recursive(
    SCALARS | NEAR_VALID,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=10,
)


def _places(data: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of a JSON value, the top level included as ``(None, None)``."""
    found: list[tuple[Any, Any]] = [(None, None)]
    stack = [data]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            found.append((node, key))
            stack.append(value)
    return found


@st.composite
def mutated(draw: st.DrawFn, bases: list[Any]) -> str:
    """JSON text of a valid document with one to three random edits (replace, delete, add a key)."""
    data = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 3))):
        container, key = draw(st.sampled_from(_places(data)))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if container is None:
            if action == "replace":
                data = draw(JSON)
            continue
        if action == "replace":
            container[key] = draw(JSON)
        elif action == "delete":
            del container[key]
        elif isinstance(container, dict):
            container[draw(st.text(max_size=6))] = draw(JSON)
        else:
            container.append(draw(JSON))
    return json.dumps(data)


TEXTS = st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")) | JSON.map(json.dumps)


def _one_line_error(error: DesignerError) -> None:
    assert str(error) and "\n" not in str(error)


@FUZZ
@given(mutated(BASES) | TEXTS)
def test_fuzzed_specs_parse_or_fail_in_one_line(text):
    try:
        spec = ArchSpec.from_json(text)
    except DesignerError as error:
        _one_line_error(error)
        return
    analysis = analyze_spec(spec)
    assert analysis.params > 0 and analysis.flops > 0
    assert ArchSpec.from_json(spec.to_json()) == spec


@FUZZ
@given(mutated([json.loads(PROFILE.to_text())]) | TEXTS)
def test_fuzzed_profiles_parse_or_fail_in_one_line(text):
    try:
        table = LatencyTable.from_dict(loads(text, "profile"))
    except DesignerError as error:
        _one_line_error(error)
        return
    again = LatencyTable.from_dict(json.loads(table.to_text()))
    assert again.entries.keys() == table.entries.keys() and again.batch == table.batch


# --- the generic dataclass reader -------------------------------------------------------------------
@dataclass(frozen=True)
class Inner:
    size: int
    ratio: float = 1.0


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner
    parts: tuple[Inner, ...] = ()
    limit: int | None = None
    pair: tuple[float, float] = (0.0, 1.0)
    flag: bool = False
    notes: dict[str, Any] | None = None


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "a", "inner": {"size": 2.0}}, "x.json: inner.size must be a whole number, got 2.0; write 2"),
        ({"name": "a", "inner": {"size": True}}, "inner.size must be a whole number, got true"),
        ({"name": "a", "inner": {"size": "3"}}, 'inner.size must be a whole number, got "3"; write 3 without quotes'),
        ({"name": "a", "inner": {"size": 1}, "flag": "yes"}, 'flag must be true or false, got "yes"'),
        ({"name": "a", "inner": {"size": 1}, "flag": 1}, "flag must be true or false, got 1"),
        ({"name": "a", "inner": {"size": 1}, "limit": 2.5}, "limit must be a whole number or null, got 2.5"),
        ({"name": "a", "inner": {"size": 1}, "pair": [1]}, "pair must be a list of 2 values, got a list of 1"),
        ({"name": "a", "inner": {"size": 1}, "parts": [{"size": 1}, {}]}, "parts[1] needs size; add it"),
        ({"name": "a", "inner": {"size": 1}, "parts": {}}, "parts must be a list of objects {...}, got an object"),
        ({"name": "a", "inner": {"size": 1}, "notes": []}, "notes must be an object {...} or null, got a list of 0"),
        ({"name": "a", "inner": {"size": 1, "colour": 1}}, "inner has unknown key(s) colour; valid keys: ratio, size"),
        ({"inner": {"size": 1}}, "x.json needs name; add it"),
        ([], "x.json must be an object {...}, got a list of 0"),
    ],
)
def test_build_names_the_field_and_the_fix(data, message):
    with pytest.raises(DesignerError) as error:
        build(Outer, data, "x.json")
    assert message in str(error.value)


def test_build_keeps_valid_values_exactly():
    data = {"name": "a", "inner": {"size": 2, "ratio": 3}, "parts": [{"size": 1}], "limit": None, "pair": [0.5, 1]}
    outer = build(Outer, {**data, "notes": {"any": [1, {"x": None}]}}, "x.json")
    assert outer == Outer("a", Inner(2, 3), (Inner(1),), None, (0.5, 1), False, {"any": [1, {"x": None}]})
    assert type(outer.inner.ratio) is int  # an integer stays one (a spec's digest is unchanged)
