"""Profile: time the design space's ops on this machine's device into a latency profile (one call).

What is not given is chosen, printed and recorded in the profile's provenance (``chosen``):

* backend: ``tensorrt`` where TensorRT imports (the backend deployment uses:
  ``designer export --engine``), else ``torch``;
* precision: ``fp32`` with TF32 off, the setting of the DeepMAD paper's GPU-throughput tables;
* batch: the largest power of two up to :data:`MAX_BATCH` at which the grid's largest op fits in
  :data:`MEMORY_SHARE` of the GPU's memory (:func:`default_batch`); :data:`CPU_BATCH` on CPUs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from designer.core.blocks import list_families
from designer.core.errors import DesignerError, ParameterError
from designer.core.params import check_choice, check_int
from latency.measure.backend import REPETITIONS, WARMUP
from latency.predict.ops import OpKey
from latency.predict.profiles import PARTS, available, summary, user_dir
from latency.predict.table import LatencyTable, on_tensor_cores, profile_name

PRECISION = "fp32"
MAX_BATCH = 256
"""The appendix grows the batch until memory is full, i.e. measures a saturated GPU. Throughput
gains per doubling shrink (V100 tables, ResNet-50: +6 % then +3 % from batch 32 to 64 to 128 in
FP32, +15 % then +9 % in FP16) while profiling time doubles; 256 is where the shipped H100
profiles are measured and validated, and an H200 full of memory would take a batch in the
thousands and eight times as long to profile."""
MEMORY_SHARE = 0.5
"""Of the GPU's memory, what the largest op's tensors may take (the rest: CUDA context, cuDNN
workspaces, the CUDA graphs' pools)."""
CPU_BATCH = 8
"""CPUs serve small batches, and timing grows with the batch (the shipped CPU profile is b8)."""
BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "int8": 1}


@dataclass(frozen=True)
class Choice:
    """A setting that was not given: its value and why."""

    value: Any
    why: str


def default_backend() -> Choice:
    """``tensorrt`` where a real TensorRT imports (not only its type stubs), else ``torch``."""
    try:
        import tensorrt

        if hasattr(tensorrt, "Builder"):
            return Choice("tensorrt", f"TensorRT {tensorrt.__version__} imports here: the backend deployment uses")
    except ImportError:
        pass
    return Choice("torch", "TensorRT does not import here (pip install 'designer[tensorrt]' to profile with it)")


def op_bytes(op: OpKey, precision: str, batch: int) -> int:
    """Memory (bytes) of an op's tensors while it runs at ``batch``: input, output and one more
    output-sized tensor (the residual, or the conv's result before the activation) per image, and
    the weights once."""
    layer = op.layer()
    return BYTES[precision] * (2 * batch * int(layer.activations) + int(layer.params))


def default_batch(ops: Sequence[OpKey], precision: str, memory: int | None) -> Choice:
    """The largest power of two up to :data:`MAX_BATCH` at which the largest of ``ops`` fits in
    :data:`MEMORY_SHARE` of ``memory`` (bytes; ``None``: a CPU, :data:`CPU_BATCH`)."""
    if memory is None:
        return Choice(CPU_BATCH, "CPUs serve small batches and profiling time grows with the batch")

    def need(batch: int) -> int:
        return max(op_bytes(op, precision, batch) for op in ops)

    batch = MAX_BATCH
    while batch > 1 and need(batch) > MEMORY_SHARE * memory:
        batch //= 2
    return Choice(
        batch,
        f"the largest power of two up to {MAX_BATCH} at which the grid's largest op ({need(batch) / 2**30:.1f} GiB) "
        f"fits in {MEMORY_SHARE:.0%} of the {memory / 2**30:.0f} GiB here (the paper grows the batch until memory "
        f"is full; past {MAX_BATCH} throughput gains a few % while profiling time doubles)",
    )


def _existing(gpu: str) -> str:
    """Where this device cannot be measured: the profiles of ``gpu`` there are already, if any."""
    names = [name for name in available() if (parts := PARTS.match(name)) and parts["gpu"] == gpu]
    return f"; {gpu} profiles exist already: {summary(names)} (`designer solve --profile NAME`)" if names else ""


def gpu_memory() -> int:
    """Total memory (bytes) of the CUDA device in use."""
    import torch

    return int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)


def profile(
    gpu: str,
    backend: str | None = None,
    precision: str | None = None,
    batch: int | None = None,
    *,
    resolution: int = 224,
    families: Sequence[str] | None = None,
    activation: str = "relu",
    device: str | None = None,
    warmup: int = WARMUP,
    repetitions: int = REPETITIONS,
    output: str | Path | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> LatencyTable:
    """Measure the latency profile of ``gpu`` (this machine's device) and save it.

    Times the ops of the families' design spaces at ``resolution`` (:mod:`latency.measure.grid`)
    with ``backend`` at ``precision`` and ``batch`` (each chosen when ``None``: see the module
    docstring); the profile goes to ``output``, by default the user profile folder under its
    standard name. An interrupted run resumes where it stopped; ``limit`` times only the first
    ops, as a trial.
    """
    from latency.measure.backend import Settings, check_device, get_backend
    from latency.measure.grid import at_batch, profile_ops
    from latency.measure.profiler import build_profile

    families = list(families or list_families())
    for family in families:
        check_choice("families", family, list_families())
    if batch is not None:
        check_int("batch", batch)
    check_int("resolution", resolution, 8)
    check_int("warmup", warmup, 0)
    check_int("repetitions", repetitions)
    if limit is not None:
        check_int("limit", limit)
    if not gpu:
        raise ParameterError("{gpu} must name the device measured (h100, cpu, ...)")
    chosen: dict[str, Choice] = {}
    if backend is None:
        chosen["backend"] = default_backend()
        backend = str(chosen["backend"].value)
    if precision is None:
        chosen["precision"] = Choice(PRECISION, "TF32 off, as the DeepMAD paper's GPU-throughput tables")
        precision = PRECISION
    device = device or ("cpu" if backend == "onnxruntime" else "cuda")
    try:
        timer = get_backend(backend, Settings(precision, activation, warmup, repetitions, device))
        check_device(timer, gpu)
    except DesignerError as error:
        raise DesignerError(f"{error}{_existing(gpu)}") from None
    dense = on_tensor_cores(backend, precision)
    any_batch = profile_ops(resolution, families, dense)
    if batch is None:
        chosen["batch"] = default_batch(any_batch, precision, gpu_memory() if device == "cuda" else None)
        batch = int(chosen["batch"].value)
    ops = at_batch(any_batch, resolution, batch)[:limit]
    name = profile_name(gpu, backend, precision, batch)
    path = Path(output) if output is not None else user_dir() / f"{name}.json"
    # a new user profile comes first in the search path, before a shipped one of the same name:
    # it starts from that one's entries, so that it never stands for fewer measurements
    shadowed = available().get(name) if output is None and not path.exists() else None
    base = shadowed if shadowed is not None and shadowed.resolve() != path.resolve() else None
    if progress:
        for name, choice in chosen.items():
            print(f"{name} {choice.value}: {choice.why}", flush=True)
        print(f"timing {len(ops)} ops on {timer.device_name()} -> {path}", flush=True)
    start = time.monotonic()
    grid = {"resolution": resolution, "families": families, "dense": dense, "ops": len(ops)}
    extra = {"chosen": {name: f"{choice.value}: {choice.why}" for name, choice in chosen.items()}} if chosen else {}
    table = build_profile(timer, gpu, batch, ops, path, grid, progress, extra, base)
    if progress:
        skipped = table.provenance.get("skipped") or []
        print(
            f"wrote {path}: {len(table.entries)} ops in {time.monotonic() - start:.0f} s"
            + (f"; {len(skipped)} skipped (out of memory)" if skipped else "")
        )
    return table
