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
named ``.json.gz`` holds the same text gzipped (the shipped V100 tables).
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_bytes, atomic_write_text
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
        def fail(problem: str) -> DesignerError:
            return DesignerError(f"{where}: {problem}; fix it or re-create the profile with `designer profile`")

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise fail(f'not a latency profile (no "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise fail(f"version {data.get('version')!r} is not supported (this designer reads version {VERSION})")
        for name, kind in (("gpu", str), ("backend", str), ("precision", str), ("batch", int)):
            if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
                raise fail(f"{name!r} is missing or not a {kind.__name__}")
        if data["backend"] not in BACKENDS:
            raise fail(f"backend {data['backend']!r} is unknown (use one of {', '.join(BACKENDS)})")
        if data["precision"] not in PRECISIONS:
            raise fail(f"precision {data['precision']!r} is unknown (use one of {', '.join(PRECISIONS)})")
        if data["batch"] < 1:
            raise fail(f"batch must be positive, got {data['batch']}")
        provenance = data.get("provenance")
        if not isinstance(provenance, dict) or any(key not in provenance for key in PROVENANCE_KEYS):
            raise fail(f"provenance must be an object with at least {', '.join(PROVENANCE_KEYS)}")
        if data.get("columns") != list(COLUMNS):
            raise fail(f"columns must be {list(COLUMNS)}")
        rows = data.get("entries")
        if not isinstance(rows, list):
            raise fail("entries must be a list")
        entries: dict[OpKey, float] = {}
        for index, row in enumerate(rows):
            key, ms = _parse_entry(row)
            if key is None:
                raise fail(f"entry {index} {json.dumps(row)} is not [kind, cin, res, cout, kernel, stride, ms]")
            if key in entries:
                raise fail(f"entry {index} repeats {key.label()}")
            entries[key] = ms
        return cls(
            data["gpu"],
            data["backend"],
            data["precision"],
            data["batch"],
            provenance,
            entries,
            bool(data.get("complete", True)),
        )

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        path = Path(path)
        try:
            raw = path.read_bytes()
            text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()
        except (gzip.BadGzipFile, EOFError, UnicodeDecodeError, zlib.error) as error:
            raise DesignerError(f"profile {path} cannot be decoded ({error}); re-create it") from None
        except OSError as error:
            raise DesignerError(f"cannot read profile {path}: {error.strerror}; check the path") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise DesignerError(f"profile {path} is not valid JSON ({error}); re-create it") from None
        return cls.from_dict(data, f"profile {path}")


def _parse_entry(row: Any) -> tuple[OpKey | None, float]:
    if not isinstance(row, list) or len(row) != len(COLUMNS) or row[0] not in KINDS:
        return None, 0.0
    ints, ms = row[1:6], row[6]
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in ints) or min(ints[:3]) < 1:
        return None, 0.0
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms) or ms <= 0:
        return None, 0.0
    return OpKey(row[0], *ints), float(ms)


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
