"""Figures of the reports (latency validation, tuning, training curves, benchmarks), drawn
off-screen and returned as PNG bytes for an atomic write. Matplotlib is imported when the first
figure is made, so that modules which draw import cheaply."""

from __future__ import annotations

import io
from typing import Any


def subplots(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``matplotlib.pyplot.subplots`` on the off-screen (Agg) backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def png(figure: Any, dpi: float | None = None) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return buffer.getvalue()
