"""Hardware-aware DeepMAD: design CNNs by maximising network entropy under effectiveness, cost
and measured-throughput constraints, then train and export them.

A five-line design under a throughput target::

    import designer

    request = designer.DesignRequest(family="bottleneck", target_throughput=1200, profile="cpu-ort-fp32-b8")
    result = designer.design(request)
    print(result.predicted_throughput, result.analysis.report.entropy)
    result.spec.save("arch.json")

Names are imported when first used (PyTorch-using parts only then), as Optuna does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ArchSpec": "designer.core.spec",
    "StageSpec": "designer.core.spec",
    "StemSpec": "designer.core.spec",
    "DesignRequest": "designer.core.request",
    "Analysis": "designer.core.analysis",
    "DesignerError": "designer.core.errors",
    "ParameterError": "designer.core.errors",
    "Infeasible": "designer.core.errors",
    "SolveTimeout": "designer.core.errors",
    "list_families": "designer.core.blocks",
    "reference_spec": "designer.core.reference",
    "DesignResult": "designer.workflows.design",
    "design": "designer.workflows.design",
    "analyze": "designer.workflows.analyze",
    "verify": "designer.workflows.verify",
    "profile": "designer.workflows.profile",
    "train": "designer.workflows.training",
    "build_model": "designer.nn.model",
    "load_predictor": "latency.predict.cache",
    "export": "export.pipeline",
}

__all__ = [
    "Analysis",
    "ArchSpec",
    "DesignRequest",
    "DesignResult",
    "DesignerError",
    "Infeasible",
    "ParameterError",
    "SolveTimeout",
    "StageSpec",
    "StemSpec",
    "analyze",
    "build_model",
    "design",
    "export",
    "list_families",
    "load_predictor",
    "profile",
    "reference_spec",
    "train",
    "verify",
]

if TYPE_CHECKING:
    from designer.core.analysis import Analysis
    from designer.core.blocks import list_families
    from designer.core.errors import DesignerError, Infeasible, ParameterError, SolveTimeout
    from designer.core.reference import reference_spec
    from designer.core.request import DesignRequest
    from designer.core.spec import ArchSpec, StageSpec, StemSpec
    from designer.nn.model import build_model
    from designer.workflows.analyze import analyze
    from designer.workflows.design import DesignResult, design
    from designer.workflows.profile import profile
    from designer.workflows.training import train
    from designer.workflows.verify import verify
    from export.pipeline import export
    from latency.predict.cache import load_predictor


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'designer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
