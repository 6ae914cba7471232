"""Latency profile files: provenance plus one measured latency per op, validated on load.

A profile holds the latencies of one device, backend, precision and batch. The file is JSON
laid out to diff well: the header first, then ``entries`` sorted by key, one per line::

    {
      "format": "designer-latency-profile",
      "version": 1,
      "gpu": "h100", "backend": "torch", "precision": "fp16", "batch": 256,
      "provenance": {"device_name": "NVIDIA H100 80GB HBM3", "driver": "...", "cuda": "...",
                     "cudnn": "...", "libraries": {"torch": "..."}, "date": "...",
                     "method": "...", "warmup": 3, "repetitions": 20, ...},
      "columns": ["kind", "cin", "res", "cout", "kernel", "stride", "ms"],
      "entries": [
        ["conv_act", 3, 224, 32, 3, 2, 0.1834],
        ...
      ]
    }

``ms`` is the median latency of the op for the whole batch (see :mod:`latency.predict.ops` for the
kinds and key fields). ``complete`` is false in the partial file of an interrupted run. A file
named ``.json.gz`` holds the same text gzipped (the shipped V100 tables). Loading is strict
(:mod:`designer.core.parse`): exact types, no repeated entry.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_bytes, atomic_write_text
from designer.core.parse import build, read_json
from latency.predict.ops import KINDS, OpKey

FORMAT = "designer-latency-profile"
VERSION = 1
COLUMNS = ("kind", "cin", "res", "cout", "kernel", "stride", "ms")
BACKENDS = {"torch": "torch", "onnxruntime": "ort", "tensorrt": "trt"}
"""Backend name -> its short form in profile names."""
PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "int8")
GPU_BACKENDS = ("torch", "tensorrt")
TENSOR_CORE_PRECISIONS = ("fp16", "bf16", "tf32")


def on_tensor_cores(backend: str, precision: str) -> bool:
    """Whether this backend's convs run on tensor cores at this precision (GPU backends in
    fp16, bf16 and tf32), where profiling is cheap enough for the dense grid (docs/RESULTS.md,
    'Latency tables', build time)."""
    return backend in GPU_BACKENDS and precision in TENSOR_CORE_PRECISIONS


PROVENANCE_KEYS = ("device_name", "date", "method", "repetitions")


@dataclass
class LatencyTable:
    """A profile: what was measured where (header, provenance) and the latencies (ms)."""

    gpu: str
    backend: str
    precision: str
    batch: int
    provenance: dict[str, Any] = field(default_factory=dict)
    entries: dict[OpKey, float] = field(default_factory=dict)
    complete: bool = True

    @property
    def name(self) -> str:
        """``{gpu}-{backend}-{precision}-b{batch}``, the file's stem."""
        return profile_name(self.gpu, self.backend, self.precision, self.batch)

    def subset(self, keys: Iterable[OpKey]) -> LatencyTable:
        return replace(self, entries={key: self.entries[key] for key in keys})

    # --- file format -----------------------------------------------------------------------
    def to_text(self) -> str:
        header: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "gpu": self.gpu,
            "backend": self.backend,
            "precision": self.precision,
            "batch": self.batch,
        }
        if not self.complete:
            header["complete"] = False
        header["provenance"] = self.provenance
        header["columns"] = list(COLUMNS)
        head = json.dumps(header, indent=2)[:-2]  # drop the closing "\n}"
        rows = [json.dumps([*key.as_tuple(), float(f"{ms:.6g}")]) for key, ms in sorted(self.entries.items())]
        body = ",\n".join(f"    {row}" for row in rows)
        return f'{head},\n  "entries": [\n{body}\n  ]\n}}\n' if rows else f'{head},\n  "entries": []\n}}\n'

    def save(self, path: str | Path) -> None:
        """Write the profile; a ``.gz`` path is gzipped (reproducibly: no time stamp)."""
        path = Path(path)
        if path.suffix == ".gz":
            atomic_write_bytes(path, gzip.compress(self.to_text().encode(), compresslevel=9, mtime=0))
        else:
            atomic_write_text(path, self.to_text())

    @classmethod
    def from_dict(cls, data: Any, where: str = "profile") -> LatencyTable:
        """The profile of a parsed JSON file, checked strictly (types, ranges, duplicates)."""

        def fail(problem: str) -> DesignerError:
            return DesignerError(f"{where}: {problem}; fix it or re-create the profile with `designer profile`")

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise fail(f'not a latency profile (no "format": "{FORMAT}")')
        if type(data.get("version")) is int and data["version"] != VERSION:  # any other type: build() names it
            raise fail(f"version {data['version']} is not supported (this designer reads version {VERSION})")
        header = build(_File, data, where)
        if header.backend not in BACKENDS:
            raise fail(f"backend {_clip(header.backend)} is unknown (use one of {', '.join(BACKENDS)})")
        if header.precision not in PRECISIONS:
            raise fail(f"precision {_clip(header.precision)} is unknown (use one of {', '.join(PRECISIONS)})")
        if not 1 <= header.batch <= MAX_FIELD:
            raise fail(f"batch must be from 1 to {MAX_FIELD:,}, got {header.batch}")
        missing = [key for key in PROVENANCE_KEYS if key not in header.provenance]
        if missing:
            raise fail(f"provenance lacks {', '.join(missing)}")
        if header.columns != COLUMNS:
            raise fail(f"columns must be {list(COLUMNS)}")
        entries: dict[OpKey, float] = {}
        for index, row in enumerate(header.entries):
            problem = _entry_problem(row)
            if problem:
                raise fail(f"entries[{index}] {_clip(list(row))}: {problem}")
            key = OpKey(*row[:6])
            if key in entries:
                first = next(i for i, other in enumerate(header.entries) if OpKey(*other[:6]) == key)
                raise fail(f"entries[{index}] repeats entries[{first}] ({key.label()}); keep one")
            entries[key] = float(row[6])
        return cls(
            header.gpu,
            header.backend,
            header.precision,
            header.batch,
            header.provenance,
            entries,
            header.complete,
        )

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        return cls.from_dict(read_json(path, "profile"), f"profile {path}")


Row = tuple[str, int, int, int, int, int, float]


@dataclass(frozen=True)
class _File:
    """The JSON layout of a profile file (see the module docstring)."""

    format: str
    version: int
    gpu: str
    backend: str
    precision: str
    batch: int
    provenance: dict[str, Any]
    columns: tuple[str, ...]
    entries: tuple[Row, ...]
    complete: bool = True


MAX_FIELD = 1 << 20
"""Largest channel count, resolution, kernel, stride or batch an entry may give."""


def _entry_problem(row: Row) -> str:
    """What is wrong with an entry's values (its types are already checked), or ``""``."""
    kind, cin, res, cout, kernel, stride, ms = row
    if kind not in KINDS:
        return f"kind {_clip(kind)} is unknown (use one of {', '.join(KINDS)})"
    if not all(1 <= value <= MAX_FIELD for value in (cin, res, cout)):
        return f"cin, res and cout must be from 1 to {MAX_FIELD:,}"
    if not all(0 <= value <= MAX_FIELD for value in (kernel, stride)):
        return f"kernel and stride must be from 0 to {MAX_FIELD:,}"
    if not ms > 0:
        return "ms must be a positive latency"
    return ""


def _clip(value: Any) -> str:
    """A value for an error message: short, and never a nested structure."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    text = "a nested value" if any(isinstance(v, (list, dict)) for v in items) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def profile_name(gpu: str, backend: str, precision: str, batch: int) -> str:
    return f"{gpu}-{BACKENDS.get(backend, backend)}-{precision}-b{batch}"


def environment_provenance(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Provenance common to every backend (date, host Python) plus ``extra``."""
    import datetime
    import platform

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": platform.python_version(),
        **extra,
    }
