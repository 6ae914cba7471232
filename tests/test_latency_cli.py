import json

import pytest

from designer.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["profile", "--backend", "torch", "--batch", "8"], "designer profile needs --gpu NAME"),
        (["profile", "--gpu", "h100", "--backend", "torch", "--batch", "256"], None),
        (["profile", "--gpu", "h100"], None),
        (
            ["profile", "--gpu", "h100", "--backend", "onnxruntime", "--batch", "8"],
            "a h100 profile can only be measured on a h100",
        ),
        (["profile", "--gpu", "cpu", "--backend", "onnxruntime", "--batch", "8", "--precision", "fp16"], "fp32 only"),
        (
            ["profile", "--gpu", "cpu", "--backend", "onnxruntime", "--batch", "8", "--families", "vit"],
            "--families 'vit'",
        ),
        (["profile", "check", "nonexistent-trt-fp32"], "unknown latency profile 'nonexistent-trt-fp32'; available:"),
        (["profile", "check", "cpu-ort-fp32-b8", "--holdout", "2"], "--holdout must be between 0 and 1"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(capsys, argv, message):
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if message is None:
        if cuda:
            pytest.skip("a GPU is visible: the no-GPU refusal cannot be shown here")
        message = "none is visible here"
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_list_names_the_shipped_cpu_profile(capsys):
    code, out, _ = run(capsys, "profile", "list")
    assert code == 0 and "cpu-ort-fp32-b8" in out


def test_check_json_keys_on_the_shipped_cpu_profile(capsys):
    code, out, _ = run(capsys, "profile", "check", "cpu-ort-fp32-b8", "--holdout", "0.2", "--seed", "1", "--json")
    data = json.loads(out)
    assert code == 0 and {"median_abs_error", "p90_abs_error", "within_10pct"} <= set(data)
    assert 0 <= data["median_abs_error"] <= data["p90_abs_error"] and 0 <= data["within_10pct"] <= 1


def test_solve_with_the_cpu_profile_meets_its_throughput_target(capsys):
    argv = ["solve", "--family", "mbv2", "--profile", "cpu-ort-fp32-b8", "--target-throughput", "400"]
    code, out, _ = run(capsys, *argv, "--resolution", "32", "--max-depth", "4", "--max-width", "256", "--json")
    data = json.loads(out)
    assert code == 0 and data["predicted_throughput"] >= 400


def test_validate_measures_networks_end_to_end_and_plots_them(capsys, tmp_path):
    code, out, _ = run(
        capsys,
        "profile",
        "validate",
        "cpu-ort-fp32-b8",
        "--nets",
        "1",
        "--repetitions",
        "3",
        "--output-dir",
        str(tmp_path),
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and [n["name"] for n in data["networks"]][1:] == ["resnet50", "mobilenet_v2"]
    assert all(n["measured_ms"] > 0 and n["predicted_ms"] > 0 for n in data["networks"])
    assert {"median_abs_error", "p90_abs_error", "max_abs_error"} <= set(data["summary"])
    assert (tmp_path / "validate.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "validate.json").read_text())
    assert len(saved["specs"]) == 3 and saved["profile"] == "cpu-ort-fp32-b8"


def test_plot_refuses_what_is_not_a_validate_report(capsys, tmp_path):
    path = tmp_path / "validate.json"
    path.write_text("{}")
    code, _, err = run(capsys, "profile", "plot", str(path))
    assert code == 2 and "is not a validate.json" in err


def test_validate_re_predicts_an_earlier_report_without_the_device(capsys, tmp_path):
    from pathlib import Path

    from designer.core.spec import ArchSpec
    from latency.predict.cache import load_predictor

    measured = Path(__file__).parents[1] / "docs" / "h200" / "validate-fp16.json"
    earlier = json.loads(measured.read_text())
    argv = ["profile", "validate", "h200-torch-fp16-b256", "--measured", str(measured), "--output-dir", str(tmp_path)]
    code, out, _ = run(capsys, *argv, "--json")
    data = json.loads(out)
    assert code == 0 and data["measured_in"] == str(measured)
    assert [n["measured_ms"] for n in data["networks"]] == [n["measured_ms"] for n in earlier["networks"]]
    predictor = load_predictor("h200-torch-fp16-b256")
    first = ArchSpec.from_dict(earlier["specs"][0])
    assert data["networks"][0]["predicted_ms"] == pytest.approx(predictor.network_latency(first))
    code, _, err = run(capsys, "profile", "validate", "cpu-ort-fp32-b8", "--measured", str(measured))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "batch 256, the profile at 8" in err
    code, _, err = run(capsys, "profile", "validate", "h200-torch-fp32-b256", "--measured", str(measured))
    assert (
        code == 2
        and len(err.strip().splitlines()) == 1
        and "measured with torch fp16, the profile is torch fp32" in err
    )
