"""Import of the published TinyNAS V100 TensorRT tables into profiles.

Each line of those tables is ``{Conv_type,Batch,In_C,In_H,In_W,Out_C,Kernel,Stride,ElmtFused}
Latency`` (ms for the whole batch, ``-1`` = not measured); see the README next to them. Regular
convs become ``conv_act`` (``conv_add_act`` when the residual add is fused), depthwise ones
``dwconv_act``: TensorRT fuses batch-norm and the activation into the conv. One profile is
written per batch in the file.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

from designer.core.errors import DesignerError
from designer.core.parse import read_text
from latency.predict.ops import OpKey
from latency.predict.table import LatencyTable, environment_provenance

LINE = re.compile(
    r"^\{(Regular|Depthwise),([1-9]\d{0,6}),([1-9]\d{0,6}),([1-9]\d{0,6}),([1-9]\d{0,6}),([1-9]\d{0,6}),"
    r"([1-9]\d?),([1-9]),([01])\}\s+(-?[\d.eE+-]{1,30})$"
)
"""``{type,batch,cin,height,width,cout,kernel,stride,fused} ms`` with positive sizes of at most 7 digits."""
SOURCE = (
    "alibaba/lightweight-neural-architecture-search tinynas/latency/op_profiler/V100 "
    "(commit 8ccaf889fcd06079d268a355c765e9d0af071612), Apache-2.0"
)


def read_tinynas(path: Path, gpu: str, precision: str) -> list[LatencyTable]:
    """The tables of one TinyNAS file, one per batch, sorted by batch."""
    text = read_text(path, "TinyNAS table")
    entries: dict[int, dict[OpKey, float]] = {}
    lines: dict[tuple[int, OpKey], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = LINE.match(line.strip())
        if match is None:
            raise DesignerError(f"{path}:{number} is not a TinyNAS table line ({line[:60]!r}); check the file")
        conv, batch, cin, height, width, cout, kernel, stride, fused = match.groups()[:9]
        try:
            ms = float(match[10])
        except ValueError:
            ms = math.nan
        if not math.isfinite(ms):
            raise DesignerError(f"{path}:{number} has latency {match[10]!r}; give a finite number (-1 = not measured)")
        if height != width:
            raise DesignerError(
                f"{path}:{number} has a non-square input {height}x{width}; only square inputs are supported"
            )
        if ms <= 0:
            continue
        if conv == "Depthwise":
            kind = "dwconv_act"
        else:
            kind = "conv_add_act" if fused == "1" else "conv_act"
        key = OpKey(kind, int(cin), int(height), int(cout), int(kernel), int(stride))
        first = lines.setdefault((int(batch), key), number)
        if first != number:
            raise DesignerError(
                f"{path}:{number} times the same op as line {first} ({key.label()}, batch {batch}); keep one of them"
            )
        entries.setdefault(int(batch), {})[key] = ms
    if not entries:
        raise DesignerError(f"{path} has no measured entries; give the path of conv_data.out(.fp16/.int8)")
    digest = hashlib.sha256(text.encode()).hexdigest()
    provenance = environment_provenance(
        {
            "device_name": "Tesla V100",
            "method": "published TensorRT per-layer timings (engine per layer, conv + BN + activation fused)",
            "repetitions": "unknown (published table)",
            "source": SOURCE,
            "file": path.name,
            "sha256": digest,
            "measured": "by the TinyNAS authors; driver, CUDA and TensorRT versions not published",
        }
    )
    return [
        LatencyTable(gpu, "tensorrt", precision, batch, dict(provenance), table)
        for batch, table in sorted(entries.items())
    ]
