"""Analyze any network: a spec, an arch JSON, a reference network or a PyTorch module."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from designer.core.analysis import Analysis, analyze_spec
from designer.core.entropy import DEFAULT_ALPHA, DEFAULT_BETA
from designer.core.errors import DesignerError
from designer.core.reference import REFERENCES, reference_spec
from designer.core.spec import ArchSpec


def analyze(
    target: ArchSpec | str | Path | Any,
    resolution: int = 224,
    alpha: Sequence[float] = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
) -> Analysis:
    """Params, FLOPs, depth, width, rho, entropy and objective of ``target``: an :class:`ArchSpec`,
    an arch JSON path, a reference name (``resnet50``), a ``package.module:factory`` returning an
    ``nn.Module``, or an ``nn.Module`` (walked at ``resolution``)."""
    if isinstance(target, ArchSpec):
        return analyze_spec(target, alpha, beta)
    if isinstance(target, (str, Path)):
        text = str(target)
        if text in REFERENCES:
            return analyze_spec(reference_spec(text, resolution), alpha, beta)
        if Path(text).suffix == ".json" or Path(text).exists():
            return analyze_spec(ArchSpec.load(text), alpha, beta)
        if ":" in text:
            from designer.nn.walk import analyze_module, load_module

            return analyze_module(load_module(text), resolution, alpha=alpha, name=text)
        raise DesignerError(
            f"{text!r} is not an arch JSON, a reference network ({', '.join(REFERENCES)}) or package.module:factory"
        )
    from designer.nn.walk import analyze_module

    return analyze_module(target, resolution, alpha=alpha)
