"""The README's Python example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_python_example_designs_under_a_throughput_target(tmp_path, monkeypatch, capsys):
    (example,) = python_blocks()
    assert len([line for line in example.splitlines() if line.strip()]) <= 5
    monkeypatch.chdir(tmp_path)
    exec(compile(example, str(README), "exec"), {})
    printed = capsys.readouterr().out
    speed = float(re.match(r"([\d,]+) images/s", printed).group(1).replace(",", ""))
    assert speed >= 8000 and "h100-torch-fp16" in printed
    assert (tmp_path / "arch.json").is_file()
