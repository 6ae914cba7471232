"""Starting one tuning worker per GPU on this machine.

Each worker is a process of its own that sees one GPU only (``CUDA_VISIBLE_DEVICES``), so the
throughput a trial measures is never shared with another trial's training or measurement.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from designer.core.errors import ParameterError


def parse_gpus(text: str) -> list[str]:
    """``"0,1,3"`` as ``["0", "1", "3"]``: distinct GPU indices (or UUIDs)."""
    gpus = [gpu.strip() for gpu in text.split(",")]
    if not all(gpus) or len(set(gpus)) != len(gpus):
        raise ParameterError(f"{{gpus}} needs distinct GPU indices separated by commas, like 0,1,2,3; got {text!r}")
    return gpus


def run_workers(commands: Sequence[Sequence[str]], gpus: Sequence[str]) -> int:
    """Run ``commands[i]`` on ``gpus[i]``, all at once; the first non-zero exit code, else 0.

    Ctrl-C reaches every worker (they share the terminal's process group) and they stop at once.
    """
    processes = [
        subprocess.Popen(list(command), env={**os.environ, "CUDA_VISIBLE_DEVICES": gpu})
        for command, gpu in zip(commands, gpus)
    ]
    try:
        codes = [process.wait() for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait()
    return next((code for code in codes if code), 0)
