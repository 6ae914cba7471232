"""``designer export`` as a library call: one network to ONNX, a TensorRT engine and/or a Triton entry.

Every request is checked before any work starts, the ONNX model is verified against PyTorch
before anything is written, and every file or directory appears complete or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from designer.core.errors import ParameterError
from designer.core.fileio import atomic_write_bytes, check_writable
from designer.core.spec import ArchSpec
from export.deps import check_tensorrt
from export.onnx_export import OPSET, export_onnx, verify_onnx
from export.options import EngineOptions
from export.parity import Parity
from export.source import load_network
from export.triton import TritonModel, check_target, model_config_schema, onnx_tensors, write_repository


@dataclass(frozen=True)
class ExportRequest:
    """What to export and where. The engine options' batch range also sets Triton's batching."""

    source: Path | ArchSpec
    """An arch JSON or a spec (untrained weights), or a checkpoint."""
    onnx: Path | None = None
    engine: Path | None = None
    triton_repo: Path | None = None
    name: str | None = None
    instances: int = 1
    engine_options: EngineOptions = field(default_factory=EngineOptions)
    prefer_ema: bool = True
    verbose: bool = False

    def check(self) -> None:
        """Raise on a request that cannot succeed, before anything is loaded or built."""
        if not (self.onnx or self.engine or self.triton_repo):
            raise ParameterError("nothing to export; give {onnx} PATH, {engine} PATH and/or {triton_repo} DIR")
        for what, path in (("ONNX model", self.onnx), ("engine", self.engine)):
            if path is not None:
                check_writable(path, what)
        if self.triton_repo:
            if not self.name:
                raise ParameterError("{triton_repo} needs {name}, the model's name in Triton")
            check_writable(check_target(self.triton_repo, self.name, self.instances), "Triton model")
            model_config_schema()
        if self.engine:
            check_tensorrt()


@dataclass(frozen=True)
class ExportResult:
    spec: ArchSpec
    trained: bool
    parity: tuple[Parity, ...]
    written: tuple[Path, ...]


def run_export(request: ExportRequest, log: Callable[[str], None] = print) -> ExportResult:
    """Export ``request.source``; ``log`` receives one line per step.

    Everything is built (and the ONNX model verified) before the first file is written.
    """
    request.check()
    network = load_network(request.source, request.prefer_ema)
    if not network.trained:
        log(
            f"note: {_label(request.source)} is an arch spec, so the exported weights are untrained (random initialisation)"
        )
    model = export_onnx(network)
    parity = verify_onnx(model, network.model, network.spec)
    log("onnxruntime matches PyTorch: " + "; ".join(map(str, parity)))
    onnx_bytes = model.SerializeToString()
    options = request.engine_options
    plan = None
    if request.engine:
        from export.tensorrt_engine import build_engine  # imports TensorRT, which check() found

        plan = build_engine(onnx_bytes, options, request.verbose)

    written = []
    if request.onnx:
        atomic_write_bytes(request.onnx, onnx_bytes)
        written.append(request.onnx)
        log(f"wrote {request.onnx} (opset {OPSET}, dynamic batch, batch-norm folded, {len(onnx_bytes) / 1e6:.1f} MB)")
    if request.engine and plan is not None:
        atomic_write_bytes(request.engine, plan)
        written.append(request.engine)
        log(
            f"wrote {request.engine} ({options.precision}, batch {options.min_batch}..{options.max_batch} "
            f"tuned for {options.opt_batch}, {len(plan) / 1e6:.1f} MB)"
        )
    if request.triton_repo and request.name:
        inputs, outputs = onnx_tensors(model)
        triton_model = TritonModel(
            request.name,
            "tensorrt_plan" if plan is not None else "onnxruntime_onnx",
            inputs,
            outputs,
            max_batch=options.max_batch,
            preferred_batches=options.preferred_batches,
            instances=request.instances,
        )
        target = write_repository(request.triton_repo, triton_model, plan if plan is not None else onnx_bytes)
        written.append(target)
        log(f"wrote Triton model {target} ({triton_model.platform}); see {target / 'README.md'} to serve it")
    return ExportResult(network.spec, network.trained, tuple(parity), tuple(written))


def _label(source: Path | ArchSpec) -> str:
    return (source.name or "the spec") if isinstance(source, ArchSpec) else str(source)


def export(
    source: str | Path | ArchSpec,
    *,
    onnx: str | Path | None = None,
    engine: str | Path | None = None,
    triton_repo: str | Path | None = None,
    name: str | None = None,
    instances: int = 1,
    engine_options: EngineOptions | None = None,
    prefer_ema: bool = True,
    log: Callable[[str], None] = print,
) -> ExportResult:
    """Export a spec, an arch JSON or a checkpoint to ONNX (``onnx``), a TensorRT engine
    (``engine``) and/or a Triton model repository entry (``triton_repo`` and ``name``)."""

    def path(value: str | Path | None) -> Path | None:
        return Path(value) if value is not None else None

    request = ExportRequest(
        source=source if isinstance(source, ArchSpec) else Path(source),
        onnx=path(onnx),
        engine=path(engine),
        triton_repo=path(triton_repo),
        name=name,
        instances=instances,
        engine_options=engine_options or EngineOptions(),
        prefer_ema=prefer_ema,
    )
    return run_export(request, log)
