"""``designer profile``: time every op of the grid and write the profile, resumably.

Progress goes to ``<name>.partial.json`` next to the profile (same format, ``"complete":
false``), rewritten atomically every :data:`SAVE_EVERY_S` seconds and when the run is
interrupted; a rerun with the same settings skips what it holds (or what an existing profile
holds) and times the rest. A profile is never shrunk: every entry already in it or in its
partial file is kept, whatever grid, ``--limit``, families or resolution the new run has, and
the earlier grids are listed in the provenance (``previous_grids``). Each call that times ops
adds ``{date, ops, seconds}`` to the provenance's ``builds`` (a call cut short by Ctrl-C too, in
the partial file), and a resumed profile keeps the earlier calls' records and its ``note``. The
finished profile replaces the partial file. An op the device cannot run (out of memory) is
left out and reported; the predictor extrapolates it like any other unmeasured shape.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from designer.core.errors import DesignerError
from latency.measure.backend import Backend
from latency.predict.ops import OpKey
from latency.predict.table import LatencyTable, environment_provenance

SAVE_EVERY_S = 20.0
SAME_RUN = ("gpu", "backend", "precision", "batch")
CARRIED = ("builds", "note")
"""Provenance of the earlier calls that a resumed profile keeps."""


def partial_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.partial.json")


def _resume(path: Path, table: LatencyTable, base: Path | None) -> dict[OpKey, float]:
    """Every entry already measured for the same gpu, backend, precision and batch: those of the
    profile ``base`` extends, of the profile at ``path`` and of its partial file (whatever grid
    they were measured for); records the earlier grids in ``table``'s provenance and keeps the
    newest one's :data:`CARRIED` records."""
    entries: dict[OpKey, float] = {}
    for candidate in (base, path, partial_path(path)):  # later ones hold newer work
        if candidate is None or not candidate.is_file():
            continue
        previous = LatencyTable.load(candidate)
        if any(getattr(previous, name) != getattr(table, name) for name in SAME_RUN):
            raise DesignerError(
                f"{candidate} holds a different profile ({previous.name}); remove it or choose another --output"
            )
        if previous.provenance.get("activation") != table.provenance.get("activation"):
            raise DesignerError(f"{candidate} was measured with another activation; remove it to start again")
        grids = [*previous.provenance.get("previous_grids", []), previous.provenance.get("grid")]
        for grid in grids:
            if grid and grid != table.provenance["grid"] and grid not in table.provenance["previous_grids"]:
                table.provenance["previous_grids"].append(grid)
        table.provenance.update({key: previous.provenance[key] for key in CARRIED if key in previous.provenance})
        entries.update(previous.entries)
    return entries


def _record_build(table: LatencyTable, ops: int, seconds: float) -> None:
    """Add this call's record to the provenance's ``builds`` (nothing when it timed no op)."""
    if ops:
        build = {"date": table.provenance["date"], "ops": ops, "seconds": round(seconds, 1)}
        table.provenance["builds"] = [*table.provenance.get("builds", []), build]


def build_profile(
    backend: Backend,
    gpu: str,
    batch: int,
    ops: Sequence[OpKey],
    path: Path,
    grid: dict[str, Any],
    progress: bool = True,
    extra: Mapping[str, Any] | None = None,
    base: Path | None = None,
) -> LatencyTable:
    """Time ``ops`` (resuming earlier work at ``path``) and write the finished profile there
    (``extra``: more provenance, such as the settings chosen for the user; ``base``: a profile
    of the same device elsewhere, such as a shipped one, whose entries the new one keeps)."""
    from tqdm import tqdm

    table = LatencyTable(
        gpu, backend.name, backend.settings.precision, batch, environment_provenance(backend.provenance())
    )
    table.provenance["grid"] = grid
    table.provenance.update(extra or {})
    table.provenance["previous_grids"] = []
    table.entries = _resume(path, table, base)  # never dropped: a narrower run adds to what is there
    todo = [op for op in ops if op not in table.entries]
    failed: list[str] = []
    partial = partial_path(path)
    started = saved = time.monotonic()
    before = len(table.entries)
    table.complete = False
    with tqdm(total=len(ops), initial=len(ops) - len(todo), desc=table.name, unit="op", disable=not progress) as bar:
        try:
            for op in todo:
                try:
                    table.entries[op] = backend.time_op(op, batch)
                except _out_of_memory() as error:
                    failed.append(f"{op.label()}: {type(error).__name__}")
                    _free_memory()
                bar.update()
                if time.monotonic() - saved > SAVE_EVERY_S:
                    table.save(partial)
                    saved = time.monotonic()
        except BaseException:
            if table.entries:
                _record_build(table, len(table.entries) - before, time.monotonic() - started)
                table.save(partial)
            raise
    if not table.entries:
        raise DesignerError(f"no op could be timed on {backend.device_name()}; check the device and --batch")
    table.complete = True
    table.provenance["skipped"] = failed
    _record_build(table, len(table.entries) - before, time.monotonic() - started)
    table.save(path)
    partial.unlink(missing_ok=True)
    return table


def _out_of_memory() -> tuple[type[BaseException], ...]:
    try:
        import torch

        return (torch.cuda.OutOfMemoryError,)
    except ImportError:
        return (MemoryError,)


def _free_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
