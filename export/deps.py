"""Optional dependencies, imported on first use; a missing one is reported with its install line."""

from __future__ import annotations

import importlib
from types import ModuleType

from designer.core.errors import DesignerError

TENSORRT_INSTALL = "install it with pip install 'designer[tensorrt]' on a machine with an NVIDIA GPU and driver"


def require(module: str, install: str) -> ModuleType:
    """Import ``module`` or raise a one-line :class:`DesignerError` telling how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DesignerError(f"{module} is not installed; {install}") from None


def tensorrt_available() -> bool:
    """Whether TensorRT's Python API imports (the ``tensorrt-stubs`` package alone does not count)."""
    try:
        return hasattr(importlib.import_module("tensorrt"), "Builder")
    except ImportError:
        return False


def check_tensorrt() -> None:
    if not tensorrt_available():
        raise DesignerError(f"TensorRT is not installed; {TENSORRT_INSTALL}")
