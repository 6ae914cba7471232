"""Finding profiles (gzipped ones too) and choosing the default one of a throughput target."""

import gzip
import json
import os

import pytest
from support.latency import synthetic_table

from designer.cli import main
from designer.core.errors import DesignerError, ParameterError
from designer.core.request import DesignRequest
from designer.workflows.design import load_latency_model
from latency.predict import default
from latency.predict.default import config_path, default_profile, set_default_profile
from latency.predict.profiles import available, resolve_profile, summary
from latency.predict.table import LatencyTable

SOLVE = ["solve", "--family", "mbv2", "--target-throughput", "400", "--resolution", "32", "--max-depth", "4"]
SOLVE += ["--stages", "5", "--kernel", "5", "--expansion", "6"]  # the space the shipped CPU profile measured


@pytest.fixture
def user(tmp_path, monkeypatch):
    """An empty user profile folder and config, no GPU, no $DESIGNER_PROFILE."""
    monkeypatch.setenv("DESIGNER_PROFILE_DIR", str(tmp_path / "profiles"))
    monkeypatch.setenv("DESIGNER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("DESIGNER_PROFILE", raising=False)
    monkeypatch.setattr(default, "local_gpu_name", lambda: None)
    return tmp_path / "profiles"


def test_a_gzipped_profile_round_trips_and_is_found_by_name(user):
    table = synthetic_table(batch=16)
    path = user / "x100-torch-fp32-b16.json.gz"
    table.save(path)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(path.read_bytes()).decode() == table.to_text()
    assert available()["x100-torch-fp32-b16"] == path and resolve_profile("x100-torch-fp32") == path
    assert LatencyTable.load(path).to_text() == table.to_text()
    table.save(path)  # no time stamp in the gzip header: the same table gives the same bytes
    assert path.read_bytes() == gzip.compress(table.to_text().encode(), compresslevel=9, mtime=0)


def test_a_broken_gzipped_profile_fails_in_one_line(tmp_path):
    path = tmp_path / "x100-torch-fp32-b16.json.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DesignerError, match="cannot be decoded") as error:
        LatencyTable.load(path)
    assert "\n" not in str(error.value)


def test_the_summary_groups_batches(user):
    assert summary(["a-trt-fp32-b1", "a-trt-fp32-b32", "cpu-ort-fp32-b8"]) == "a-trt-fp32-b{1,32}, cpu-ort-fp32-b8"
    assert "v100-trt-fp32-b{1,32,64,128}" in summary()


def test_without_any_choice_the_error_lists_the_profiles_and_how_to_choose(user, capsys):
    assert main(["solve", "--target-throughput", "1200"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: no latency profile given")
    for text in ("--profile NAME", "`designer profile use NAME`", "no GPU here", "v100-trt-fp32-b{1,32,64,128}"):
        assert text in err
    with pytest.raises(ParameterError) as error:  # the library names the parameter
        load_latency_model(DesignRequest(target_throughput=1200))
    assert error.value.parameters == ["profile"]


def test_the_profile_set_with_use_is_the_default_and_named_first(user, capsys):
    assert main(["profile", "use", "cpu-ort-fp32"]) == 0
    assert json.loads(config_path().read_text()) == {"profile": "cpu-ort-fp32"}
    assert "default: cpu-ort-fp32-b8 (set with `designer profile use`" in capsys.readouterr().out
    assert main(SOLVE) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("latency profile cpu-ort-fp32-b8 (set with `designer profile use`")
    assert "on cpu-ort-fp32-b8 (target 400)" in lines[-1]
    assert main([*SOLVE, "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)  # stdout stays one JSON object; the line goes to stderr
    assert data["profile"] == "cpu-ort-fp32-b8" and data["profile_reason"].startswith("set with")
    assert err.startswith("latency profile cpu-ort-fp32-b8")
    assert main(["profile", "use", "--clear"]) == 0
    assert json.loads(config_path().read_text()) == {}
    assert "default: none" in capsys.readouterr().out


def test_use_refuses_an_unknown_profile_and_keeps_the_config(user, capsys):
    assert main(["profile", "use", "v99-trt-fp32"]) == 2
    assert "unknown latency profile 'v99-trt-fp32'" in capsys.readouterr().err
    assert not config_path().exists()


def test_use_keeps_a_path_as_an_absolute_path(user, tmp_path, monkeypatch):
    synthetic_table().save(tmp_path / "mine.json")
    monkeypatch.chdir(tmp_path)
    set_default_profile("./mine.json")
    assert json.loads(config_path().read_text()) == {"profile": str(tmp_path / "mine.json")}
    monkeypatch.chdir(user.parent.parent)
    assert default_profile().path == tmp_path / "mine.json"


def test_the_environment_overrides_the_config(user, monkeypatch):
    set_default_profile("cpu-ort-fp32-b8")
    monkeypatch.setenv("DESIGNER_PROFILE", "v100-trt-fp16")
    choice = default_profile()
    assert (choice.name, choice.reason) == ("v100-trt-fp16-b128", "from $DESIGNER_PROFILE")
    monkeypatch.setenv("DESIGNER_PROFILE", "v99-trt-fp32")
    with pytest.raises(DesignerError, match=r"the default profile 'v99-trt-fp32' \(from \$DESIGNER_PROFILE\)"):
        default_profile()


def test_the_most_recent_profile_built_or_imported_here_is_next(user):
    user.mkdir()
    for age, name in enumerate(("x100-torch-fp32-b64", "x100-torch-fp16-b256", "x100-torch-fp32-b32")):
        synthetic_table().save(user / f"{name}.json")
        os.utime(user / f"{name}.json", ns=(10**18 - age * 10**9, 10**18 - age * 10**9))
    synthetic_table().save(user / "x100-torch-fp32-b8.partial.json")  # newest, but an unfinished run
    choice = default_profile()
    assert choice.name == "x100-torch-fp32-b64" and choice.reason.startswith("the most recently built or imported")


@pytest.mark.parametrize(
    "device, expected",
    [
        ("Tesla V100-SXM2-16GB", "v100-trt-fp32-b128"),
        ("NVIDIA H100 80GB HBM3", "h100-torch-fp32-b256"),
        ("NVIDIA H200", "h200-torch-fp32-b256"),
        ("NVIDIA A100-SXM4-80GB", None),
    ],
)
def test_then_the_profile_of_this_gpu_fp32_and_the_largest_batch_first(user, monkeypatch, device, expected):
    monkeypatch.setattr(default, "local_gpu_name", lambda: device)
    if expected is None:
        with pytest.raises(ParameterError, match=f"none for this machine's {device}"):
            default_profile()
    else:
        choice = default_profile()
        assert choice.name == expected and choice.reason == f"the profile of this machine's GPU, {device}"


def test_no_gpu_driver_means_no_pytorch_import(monkeypatch):
    monkeypatch.setattr(default, "DRIVER_FILES", ())
    monkeypatch.setattr(default.sys, "platform", "linux")
    monkeypatch.setattr(default.importlib.util, "find_spec", lambda name: pytest.fail(f"looked for {name}"))
    assert default.local_gpu_name() is None
