"""Checkpoint files: a trained network's weights together with the spec that shapes it.

A checkpoint is a ``torch.save`` dictionary with at least ``"arch"`` (the spec as a dict)
and ``"model"`` (the ``DesignedNet`` state dict); training adds ``"ema"`` (EMA weights),
optimizer, scheduler, scaler, RNG states and the epoch. Writes are atomic.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_bytes
from designer.core.spec import ArchSpec
from designer.nn.model import DesignedNet, build_model


def save_checkpoint(path: str | Path, spec: ArchSpec, model_state: dict[str, Any], **extra: Any) -> None:
    buffer = io.BytesIO()
    torch.save({"arch": spec.to_dict(), "digest": spec.digest(), "model": model_state, **extra}, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


RUN_CHECKPOINT = "last.pt"
"""The checkpoint of a run directory that stands for the run (its latest epoch)."""


def checkpoint_file(path: str | Path) -> Path:
    """``path``, or the :data:`RUN_CHECKPOINT` of the run directory ``path``."""
    path = Path(path)
    if not path.is_dir():
        return path
    if not (path / RUN_CHECKPOINT).is_file():
        raise DesignerError(f"{path} is a folder without a {RUN_CHECKPOINT}; give a checkpoint or a run directory")
    return path / RUN_CHECKPOINT


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The contents of a checkpoint file, or of a run directory's :data:`RUN_CHECKPOINT`."""
    path = checkpoint_file(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise DesignerError(f"checkpoint {path} does not exist; check the path") from None
    except Exception as error:  # torch raises many kinds on a corrupt file
        raise DesignerError(
            f"cannot read checkpoint {path} ({type(error).__name__}); is it a designer checkpoint?"
        ) from None
    if not isinstance(data, dict) or "arch" not in data or "model" not in data:
        raise DesignerError(f"{path} is not a designer checkpoint (it needs 'arch' and 'model' entries)")
    return data


def model_from_checkpoint(path: str | Path, prefer_ema: bool = True) -> tuple[ArchSpec, DesignedNet]:
    """The spec and the network with the checkpoint's weights (its EMA weights if present)."""
    path = checkpoint_file(path)
    data = load_checkpoint(path)
    spec = ArchSpec.from_dict(data["arch"], f"the arch of checkpoint {path}")
    if "digest" in data and data["digest"] != spec.digest():
        raise DesignerError(
            f"checkpoint {path}: its arch does not match the digest it was saved with (edited or corrupt); "
            "use an intact checkpoint of the run"
        )
    model = build_model(spec)
    state = data["ema"] if prefer_ema and data.get("ema") is not None else data["model"]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise DesignerError(
            f"checkpoint {path} does not match its arch spec ({first}); re-export it from its run"
        ) from None
    return spec, model
