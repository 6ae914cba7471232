"""Atomic file writes: a reader sees the old file or the new one, never half of either.

A write goes to a temporary ``.<name>.<random>.tmp`` next to the target and is renamed over it.
A process killed mid-write leaves its temporary file behind; the next write of the same target
removes those older than the writing process (:func:`remove_stale_temps`), so they never pile up.
A target that cannot be written is a :class:`DesignerError` naming it; :func:`check_writable`
finds that out before long work starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from designer.core.errors import DesignerError

_STARTED = time.time()
"""When this process started writing (temporary files older than this are nobody's)."""


def temp_prefix(path: Path) -> str:
    """The name prefix of ``path``'s temporary files (``.arch.json.``)."""
    return f".{path.name}."


def remove_stale_temps(path: Path, before: float | None = None) -> list[Path]:
    """Remove the temporary files of writes to ``path`` last modified before ``before``
    (default: when this process started); returns those removed."""
    cutoff = _STARTED if before is None else before
    removed = []
    try:
        candidates = list(path.parent.glob(f"{temp_prefix(path)}*.tmp"))
    except OSError:
        return []
    for temp in candidates:
        try:
            if temp.stat().st_mtime >= cutoff:
                continue
            if temp.is_dir():  # a directory written whole (a Triton model)
                shutil.rmtree(temp)
            else:
                temp.unlink()
            removed.append(temp)
        except OSError:  # gone already, or not ours to remove
            continue
    return removed


def check_writable(path: Path, what: str = "output") -> None:
    """Raise :class:`DesignerError` unless a file can be written at ``path`` (nothing is left behind)."""
    path = Path(path)
    if path.is_dir():
        raise DesignerError(f"{what} {path} is a directory; give a file path")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise DesignerError(f"cannot write {what} {path}: {folder} is not a directory; choose another path")
    try:  # a temporary file where the first missing folder (or the file) would be made
        handle, name = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=folder)
    except OSError as error:
        raise DesignerError(f"cannot write {what} {path}: {os_reason(error)}; choose another path") from None
    os.close(handle)
    os.unlink(name)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        handle, temp_name = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise DesignerError(f"cannot write {path}: {os_reason(error)}; choose another path") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException as error:
        Path(temp_name).unlink(missing_ok=True)
        if isinstance(error, IsADirectoryError):
            raise DesignerError(f"cannot write {path}: it is a directory; give a file path") from None
        if isinstance(error, OSError):
            raise DesignerError(f"cannot write {path}: {os_reason(error)}; free space or choose another path") from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def os_reason(error: OSError) -> str:
    """What went wrong with a file, in lower case (``permission denied``)."""
    return (error.strerror or str(error)).lower()
