"""What ``designer export`` exports: an arch spec (random weights) or a checkpoint (trained weights)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from designer.core.spec import ArchSpec
from designer.nn.calibrate import untrained_network
from designer.nn.checkpoint import model_from_checkpoint
from designer.nn.model import DesignedNet


@dataclass(frozen=True)
class Network:
    spec: ArchSpec
    model: DesignedNet
    trained: bool
    """False for a spec JSON: random weights, batch-norm statistics set from a random batch
    (:func:`~designer.nn.calibrate.untrained_network`), so fp16 engines neither overflow nor
    underflow where a trained network would not."""


def load_network(path: str | Path | ArchSpec, prefer_ema: bool = True) -> Network:
    """A spec or a ``.json`` path is an arch spec; anything else a checkpoint (EMA weights if it has them)."""
    if isinstance(path, ArchSpec):
        return Network(path, untrained_network(path), trained=False)
    path = Path(path)
    if path.suffix.lower() == ".json":
        spec = ArchSpec.load(path)
        return Network(spec, untrained_network(spec), trained=False)
    spec, model = model_from_checkpoint(path, prefer_ema)
    return Network(spec, model.eval(), trained=True)
