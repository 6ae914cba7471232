import json

import pytest
from support.latency import SHARED

from designer.cli import main
from designer.core.errors import DesignerError
from latency.predict.tinynas import read_tinynas

pytestmark = pytest.mark.skipif(
    not (SHARED / "conv_data.out").is_file(),
    reason=f"the published V100 tables are not at {SHARED} (../shared/ from the project root)",
)


@pytest.fixture(scope="module")
def v100_profiles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("profiles")
    for name, precision in (("conv_data.out", "fp32"), ("conv_data.out.fp16", "fp16")):
        assert (
            main(
                ["profile", "import-tinynas", str(SHARED / name), "--precision", precision, "--output-dir", str(folder)]
            )
            == 0
        )
    return folder


def test_import_writes_one_profile_per_batch(v100_profiles):
    names = sorted(p.name for p in v100_profiles.glob("*.json"))
    assert names == sorted(f"v100-trt-{p}-b{b}.json" for p in ("fp32", "fp16") for b in (1, 32, 64, 128))


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_check_meets_the_bars_on_the_published_tables(v100_profiles, monkeypatch, capsys, precision):
    monkeypatch.setenv("DESIGNER_PROFILE_DIR", str(v100_profiles))
    assert main(["profile", "check", f"v100-trt-{precision}", "--holdout", "0.1", "--seed", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["profile"] == f"v100-trt-{precision}-b128"
    assert result["median_abs_error"] <= 0.02
    # fp32 clears 95 %; the fp16 table's sub-50-microsecond entries are too jittery for that (see README)
    assert result["within_10pct"] >= (0.95 if precision == "fp32" else 0.92)


def test_solve_holds_a_throughput_target_on_the_imported_profile(v100_profiles, monkeypatch, capsys):
    monkeypatch.setenv("DESIGNER_PROFILE_DIR", str(v100_profiles))
    argv = ["solve", "--family", "basic", "--profile", "v100-trt-fp32", "--target-throughput", "20000", "--json"]
    assert main([*argv, "--max-depth", "8", "--max-width", "512"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["predicted_throughput"] >= 20000 and result["profile"] == "v100-trt-fp32-b128"  # the batch it chose


def test_lines_that_are_not_table_lines_are_refused(tmp_path):
    path = tmp_path / "conv_data.out"
    path.write_text("{Regular,1,16,7,7,16,1,1,0} 0.123\nnot a line\n")
    with pytest.raises(DesignerError, match=r"conv_data.out:2 is not a TinyNAS table line"):
        read_tinynas(path, "v100", "fp32")
