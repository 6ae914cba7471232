"""Analyze any network: a spec, an arch JSON, a reference network, a published structure file
or a PyTorch module."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from designer.core.analysis import Analysis, analyze_spec
from designer.core.blocks import get_family
from designer.core.entropy import DEFAULT_ALPHA, DEFAULT_BETA, DepthPenalty
from designer.core.errors import DesignerError
from designer.core.published import read_structure
from designer.core.reference import REFERENCES, reference_spec
from designer.core.spec import ArchSpec


def spec_penalty(
    spec: ArchSpec, kind: str = "std", beta: float = DEFAULT_BETA, skip: int | None = None
) -> DepthPenalty:
    """The depth penalty for a spec: ``skip`` defaults to its family's (the first stage's block)."""
    if skip is None:
        skip = get_family(spec.stages[0].block).penalty_skip if kind == "std" else 0
    return DepthPenalty(beta, kind, skip)


def load_target(target: str | Path, resolution: int = 224) -> ArchSpec | None:
    """The spec a name or path gives (``None`` for a ``package.module:factory``)."""
    text = str(target)
    if text in REFERENCES:
        return reference_spec(text, resolution)
    path = Path(text)
    if path.suffix == ".txt":
        return read_structure(path)
    if path.suffix == ".json" or path.exists():
        return ArchSpec.load(path)
    if ":" in text:
        return None
    raise DesignerError(
        f"{text!r} is not an arch JSON, a published structure (.txt), a reference network "
        f"({', '.join(REFERENCES)}) or package.module:factory"
    )


def analyze(
    target: ArchSpec | str | Path | Any,
    resolution: int = 224,
    alpha: Sequence[float] = DEFAULT_ALPHA,
    penalty: DepthPenalty | None = None,
) -> Analysis:
    """Params, FLOPs, depth, width, rho, entropy and objective of ``target``: an :class:`ArchSpec`,
    an arch JSON path, a published structure file (TinyNAS's ``.txt``), a reference name
    (``resnet50``, ``deepmad_r50``), a ``package.module:factory`` returning an ``nn.Module``,
    or an ``nn.Module`` (walked at ``resolution``). ``penalty`` defaults to :func:`spec_penalty`."""
    if isinstance(target, (str, Path)):
        spec = load_target(target, resolution)
        if spec is None:
            from designer.nn.walk import analyze_module, load_module

            return analyze_module(load_module(str(target)), resolution, alpha=alpha, name=str(target))
        target = spec
    if isinstance(target, ArchSpec):
        return analyze_spec(target, alpha, penalty or spec_penalty(target))
    from designer.nn.walk import analyze_module

    return analyze_module(target, resolution, alpha=alpha)
