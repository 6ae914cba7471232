"""Shared helpers of the latency tests: a synthetic profile with a known latency law (an untiled
device, so labelled onnxruntime: the predictor applies no GPU tile steps to it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latency.predict.ops import OpKey
from latency.predict.table import LatencyTable

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinynas-v100"
"""The published V100 tables, at ``../shared/`` from the project root (never copied here)."""

T0, PER_MAC, PER_ELEMENT = 0.02, 2e-9, 4e-8
CHANNELS = (32, 64, 128, 256)
RESOLUTIONS = (8, 16, 32)


def true_latency(key: OpKey, batch: int) -> float:
    """The synthetic device: launch overhead plus work plus traffic, linear in both."""
    layer = key.layer()
    return T0 + batch * (PER_MAC * float(layer.macs) + PER_ELEMENT * float(layer.activations))


def synthetic_keys() -> list[OpKey]:
    keys = []
    for res in RESOLUTIONS:
        for cout in CHANNELS:
            keys.append(OpKey("conv_act", 3, res, cout, 3, 2))
            for cin in CHANNELS:
                for kind in ("conv_act", "conv_add_act", "conv"):
                    keys.append(OpKey(kind, cin, res, cout, 3 if kind != "conv" else 1, 1))
                keys.append(OpKey("conv_act", cin, res, cout, 3, 2))
            keys += [
                OpKey("dwconv_act", cout, res, cout, 3, 1),
                OpKey("se", cout, res, cout // 4, 1, 1),
                OpKey("maxpool", cout, res, cout, 3, 2),
                OpKey("avgpool", cout, res, cout, 0, 0),
            ]
    keys += [OpKey("linear", c, 1, o, 1, 1) for c in CHANNELS for o in (10, 100, 1000)]
    return keys


def synthetic_table(batch: int = 8, keys: list[OpKey] | None = None) -> LatencyTable:
    provenance = {"device_name": "synthetic", "date": "2026-01-01", "method": "formula", "repetitions": 1}
    keys = synthetic_keys() if keys is None else keys
    return LatencyTable("synth", "onnxruntime", "fp32", batch, provenance, {k: true_latency(k, batch) for k in keys})


def relative_error(predicted: float | np.ndarray, measured: float | np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(predicted) / np.asarray(measured) - 1.0)
