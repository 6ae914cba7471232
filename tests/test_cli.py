import json

import pytest

from designer.cli import main
from designer.core.spec import ArchSpec

SOLVE_KEYS = {"flops", "params", "rho", "entropy", "objective", "solve_seconds", "arch"}
SMALL = ["--resolution", "32", "--stages", "3", "--max-width", "128", "--max-depth", "6", "--classes", "10"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_solve_json_and_output_file(capsys, tmp_path):
    path = tmp_path / "arch.json"
    code, out, _ = run(
        capsys, "solve", "--family", "basic", "--flops", "5M", "--params", "0.1M", *SMALL, "--json", "-o", str(path)
    )
    assert code == 0
    data = json.loads(out)
    assert SOLVE_KEYS <= set(data)
    assert data["flops"] <= 5e6 and data["params"] <= 1e5 and data["rho"] <= 0.3
    assert ArchSpec.load(path).to_dict() == data["arch"]


def test_solve_prints_stage_table(capsys):
    code, out, _ = run(capsys, "solve", "--family", "mbv2", "--flops", "3e6", "--head-width", "64", *SMALL)
    assert code == 0
    assert "stage 1" in out and "resolution" in out and "rho" in out and "entropy" in out


def test_analyze_uses_solve_key_names(capsys, tmp_path):
    code, out, _ = run(capsys, "analyze", "resnet50", "--json")
    data = json.loads(out)
    assert code == 0 and {"flops", "params", "rho", "entropy", "depth", "mean_width"} <= set(data)
    assert data["params"] == 25_557_032
    code, out, _ = run(capsys, "analyze", "support.nets:small_resnet", "--resolution", "64", "--json")
    assert code == 0 and json.loads(out)["params"] == 11_181_642  # resnet18 with a 10-class head


@pytest.mark.parametrize(
    "argv, message",
    [
        (["solve", "--family", "vit", "--flops", "1G"], "--family: invalid choice: 'vit'"),
        (["solve", "--flops", "lots"], "--flops: 'lots' is not a number"),
        (["solve", "--flops", "1G", "--rho", "50"], "--rho must be a finite number at least 0.05 and at most 5"),
        (["solve", "--family", "mbv2", "--flops", "5M"], "smallest feasible FLOPs budget is"),
        (["solve", "--flops", "1G", "--alpha", "1,2"], "--alpha needs 5 finite non-negative weights"),
        (["analyze", "nonsense"], "is not an arch JSON"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_solve_time_limit_counts_the_whole_command(monkeypatch):
    from designer.cli import solve as solve_cli
    from designer.core.request import DesignRequest

    request = DesignRequest(family="basic", flops=1e9, time_limit=10.0)
    monkeypatch.setattr(solve_cli, "command_seconds", lambda: 3.0)
    assert solve_cli.within_command(request).time_limit == pytest.approx(7.0 - solve_cli.FINISH_SECONDS)
    monkeypatch.setattr(solve_cli, "command_seconds", lambda: 30.0)  # a slow predictor fit, say
    assert solve_cli.within_command(request).time_limit == pytest.approx(10.0 * solve_cli.LEAST_SOLVE_SHARE)


def test_a_later_command_in_the_process_counts_from_its_own_start():
    from designer.cli import clock

    clock.start_command()
    clock.start_command()
    assert 0.0 <= clock.command_seconds() < 1.0
