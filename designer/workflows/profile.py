"""Profile: time the design space's ops on this machine's device into a latency profile (one call)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from designer.core.blocks import list_families
from designer.core.errors import ParameterError
from designer.core.params import check_choice, check_int
from latency.predict.profiles import user_dir
from latency.predict.table import LatencyTable, on_tensor_cores, profile_name


def profile(
    gpu: str,
    backend: str = "torch",
    precision: str = "fp32",
    batch: int = 256,
    *,
    resolution: int = 224,
    families: Sequence[str] | None = None,
    activation: str = "relu",
    device: str | None = None,
    warmup: int = 5,
    repetitions: int = 20,
    output: str | Path | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> LatencyTable:
    """Measure the latency profile of ``gpu`` (this machine's device) and save it.

    Times the ops of the families' design spaces at ``resolution`` (:mod:`latency.measure.grid`)
    with ``backend`` at ``precision`` and ``batch``; the profile goes to ``output``, by default
    the user profile folder under its standard name. An interrupted run resumes where it
    stopped; ``limit`` times only the first ops, as a trial.
    """
    from latency.measure.backend import Settings, check_device, get_backend
    from latency.measure.grid import profile_ops
    from latency.measure.profiler import build_profile

    families = list(families or list_families())
    for family in families:
        check_choice("families", family, list_families())
    check_int("batch", batch)
    check_int("resolution", resolution, 8)
    check_int("warmup", warmup, 0)
    check_int("repetitions", repetitions)
    if limit is not None:
        check_int("limit", limit)
    if not gpu:
        raise ParameterError("{gpu} must name the device measured (h100, cpu, ...)")
    settings = Settings(
        precision, activation, warmup, repetitions, device or ("cpu" if backend == "onnxruntime" else "cuda")
    )
    timer = get_backend(backend, settings)
    check_device(timer, gpu)
    dense = on_tensor_cores(backend, precision)
    ops = profile_ops(resolution, families, dense)[:limit]
    path = Path(output) if output is not None else user_dir() / f"{profile_name(gpu, backend, precision, batch)}.json"
    if progress:
        print(f"timing {len(ops)} ops on {timer.device_name()} -> {path}", flush=True)
    start = time.monotonic()
    grid = {"resolution": resolution, "families": families, "dense": dense, "ops": len(ops)}
    table = build_profile(timer, gpu, batch, ops, path, grid, progress)
    if progress:
        skipped = table.provenance.get("skipped") or []
        print(
            f"wrote {path}: {len(table.entries)} ops in {time.monotonic() - start:.0f} s"
            + (f"; {len(skipped)} skipped (out of memory)" if skipped else "")
        )
    return table
