import json
import re

import pytest

from designer.core.errors import DesignerError
from designer.core.reference import REFERENCES, reference_spec
from designer.core.spec import ArchSpec, StageSpec, StemSpec


def small_spec() -> ArchSpec:
    return ArchSpec(
        resolution=32,
        stem=StemSpec(width=16),
        stages=(
            StageSpec("bottleneck", width=64, depth=2, inner=16, kernel=5),
            StageSpec("mbv2", width=96, depth=2, expansion=3, se=True),
            StageSpec("basic", width=128, depth=1),
        ),
        head_width=256,
        num_classes=10,
        activation="silu",
        name="small",
    )


@pytest.mark.parametrize("name", list(REFERENCES))
def test_round_trip_references(name, tmp_path):
    spec = reference_spec(name)
    path = tmp_path / "arch.json"
    spec.save(path)
    assert ArchSpec.load(path) == spec
    assert ArchSpec.from_json(spec.to_json()).digest() == spec.digest()


def test_round_trip_mixed_spec():
    spec = small_spec()
    data = json.loads(spec.to_json())
    assert data["version"] == 1 and data["stages"][1]["se"] is True
    assert ArchSpec.from_dict(data) == spec


def test_digest_ignores_name_but_not_shape():
    spec = small_spec()
    assert spec.with_name("other").digest() == spec.digest()
    assert reference_spec("resnet18").digest() != reference_spec("resnet34").digest()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["stages"][0].update(block="transformer"), "unknown block family"),
        (lambda d: d["stages"][0].update(width=0), "width must be a positive integer"),
        (lambda d: d["stages"][0].update(kernel=4), "kernel must be one of"),
        (lambda d: d["stages"][0].update(stride=3), "stride must be 1 or 2"),
        (lambda d: d["stages"][0].pop("inner"), "needs 'inner'"),
        (lambda d: d["stages"][1].update(inner=64), "exactly one of 'expansion' or 'inner'"),
        (lambda d: d["stages"][2].update(se=True), "SE is available for mbv2"),
        (lambda d: d.update(activation="gelu"), "activation 'gelu' is not supported"),
        (lambda d: d.update(version=7), "version 7 is not supported"),
        (lambda d: d.update(colour="red"), "unknown key(s) colour"),
        (lambda d: d.pop("stages"), "needs stages; add it"),
        (lambda d: d.update(resolution=2), "down-samples below 1x1"),
        # exact types: no truthy strings, no float or bool for an int, no string for a number
        (lambda d: d["stem"].update(pool="no"), 'stem.pool must be true or false, got "no"'),
        (lambda d: d["stages"][1].update(se="false"), "stages[1].se must be true or false"),
        (lambda d: d["stages"][0].update(stride=2.0), "stages[0].stride must be a whole number, got 2.0; write 2"),
        (lambda d: d["stages"][0].update(stride=True), "stages[0].stride must be a whole number, got true"),
        (lambda d: d.update(name=5), "name must be a string, got 5"),
        (lambda d: d["stages"][1].update(expansion="6"), 'expansion must be a finite number or null, got "6"'),
        (lambda d: d["stages"][0].update(width=10**9), "width must be a positive integer of at most 65,536"),
        (lambda d: d["stages"][1].update(expansion=1e6), "expansion must be a number from 1 to 64"),
        (lambda d: d.update(stages={}), "stages must be a list of objects"),
    ],
)
def test_validation_errors_name_the_problem(mutate, message):
    data = small_spec().to_dict()
    mutate(data)
    with pytest.raises(DesignerError, match=re.escape(message)):
        ArchSpec.from_dict(data)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"version": 1, "resolution": NaN}', "NaN is not a number JSON allows"),
        ('{"version": 1, "resolution": Infinity}', "Infinity is not a number JSON allows"),
        ('{"version": 1, "resolution": 1e400}', "1e400 is too large"),
        ('{"version": 1, "resolution": ' + "9" * 5_000_000 + "}", "an integer of 5,000,000 digits is too large"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"resolution": 32, "resolution": 64}', 'key "resolution" appears twice'),
    ],
)
def test_json_that_python_accepts_but_a_spec_must_not(text, message):
    with pytest.raises(DesignerError) as error:
        ArchSpec.from_json(text)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_load_reports_bad_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(DesignerError, match="not valid JSON"):
        ArchSpec.load(path)
    with pytest.raises(DesignerError, match="cannot read arch spec"):
        ArchSpec.load(tmp_path / "missing.json")
    path.write_bytes(bytes(range(256)))
    with pytest.raises(DesignerError, match="is not text"):
        ArchSpec.load(path)
