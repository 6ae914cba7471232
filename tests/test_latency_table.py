import json

import pytest
from support.latency import synthetic_table

from designer.core.errors import DesignerError
from latency.predict.ops import OpKey
from latency.predict.profiles import resolve_profile
from latency.predict.table import LatencyTable


def test_profile_round_trips_one_sorted_entry_per_line(tmp_path):
    table = synthetic_table()
    path = tmp_path / "synth-torch-fp32-b8.json"
    table.save(path)
    loaded = LatencyTable.load(path)
    assert loaded.entries.keys() == table.entries.keys()
    assert all(abs(loaded.entries[k] / table.entries[k] - 1) < 1e-5 for k in table.entries)
    assert (loaded.gpu, loaded.backend, loaded.precision, loaded.batch) == ("synth", "onnxruntime", "fp32", 8)
    lines = path.read_text().splitlines()
    rows = [json.loads(line.strip().rstrip(",")) for line in lines if line.strip().startswith('["')]
    assert len(rows) == len(table.entries)
    assert [OpKey(*row[:6]) for row in rows] == sorted(table.entries)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(version=7), "version 7 is not supported"),
        (lambda d: d.update(backend="cuda-magic"), 'backend "cuda-magic" is unknown'),
        (lambda d: d["provenance"].pop("device_name"), "provenance lacks device_name"),
        (lambda d: d["entries"].append(["conv_act", 8, 8, 8, 3, 1, -1.0]), "ms must be a positive latency"),
        (lambda d: d["entries"].append(["warp", 8, 8, 8, 3, 1, 1.0]), 'kind "warp" is unknown'),
        (lambda d: d["entries"].append(list(d["entries"][0])), "repeats entries[0]"),
        (lambda d: d["entries"].append(["conv_act", 8.0, 8, 8, 3, 1, 1.0]), "must be a whole number, got 8.0"),
        (lambda d: d["entries"].append(["conv_act", True, 8, 8, 3, 1, 1.0]), "must be a whole number, got true"),
        (lambda d: d.update(batch="8"), 'batch must be a whole number, got "8"; write 8 without quotes'),
        (lambda d: d.update(complete="false"), "complete must be true or false"),
        (lambda d: d.update(entries={}), "entries must be a list of lists"),
    ],
)
def test_invalid_profiles_fail_with_one_line(tmp_path, change, message):
    path = tmp_path / "bad-torch-fp32-b8.json"
    data = json.loads(synthetic_table().to_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(DesignerError) as error:
        LatencyTable.load(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_names_resolve_in_the_user_folder_first_and_to_the_largest_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("DESIGNER_PROFILE_DIR", str(tmp_path))
    for batch in (1, 32, 128):
        synthetic_table(batch).save(tmp_path / f"x100-torch-fp32-b{batch}.json")
    assert resolve_profile("x100-torch-fp32").name == "x100-torch-fp32-b128.json"
    assert resolve_profile("x100-torch-fp32-b32").name == "x100-torch-fp32-b32.json"
    assert resolve_profile(str(tmp_path / "x100-torch-fp32-b1.json")).name == "x100-torch-fp32-b1.json"
    assert resolve_profile("cpu-ort-fp32-b8").parent.name == "profiles"  # shipped
    with pytest.raises(
        DesignerError, match=r"unknown latency profile 'v99-trt-fp32'; available: .*x100-torch-fp32-b\{1,32,128\}"
    ):
        resolve_profile("v99-trt-fp32")
