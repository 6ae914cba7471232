"""Where a benchmark report was measured: the date, the machine and the version of ``designer`` run."""

from __future__ import annotations

import datetime
import platform
import subprocess
from pathlib import Path
from typing import Any

import designer


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
