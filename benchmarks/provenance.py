"""The benchmark scripts' JSON reports: where one was measured (the date, the machine and the version
of ``designer`` run), and reading one back."""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

import designer
from designer.core.errors import DesignerError


def version() -> str:
    """The checkout's commit that ``designer`` was imported from (``+changes`` where its files differ)."""
    root = Path(designer.__file__).resolve().parents[1]
    result = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "designer"], capture_output=True, text=True
    )
    return result.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def report_header() -> dict[str, Any]:
    """The ``date`` (UTC), ``machine`` and ``version`` that open a report, taken when it is called."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "version": version(),
    }


def read_report(path: Path, script: str, needed: set[str]) -> dict[str, Any]:
    """The report at ``path``, a JSON object with the ``needed`` keys that ``script`` wrote (else a
    one-line error naming what is wrong)."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DesignerError(f"{path}: cannot read it as JSON ({error}); give a report {script} wrote") from None
    if not isinstance(report, dict):
        raise DesignerError(f"{path}: not a JSON object; give a report {script} wrote")
    missing = needed - set(report)
    if missing:
        raise DesignerError(f"{path}: no {', '.join(sorted(missing))}; give a report {script} wrote")
    return report
