"""``designer export`` as a library call: one network to ONNX, a TensorRT engine and/or a Triton entry.

Every request is checked before any work starts, the ONNX model is verified against PyTorch
before anything is written, and every file or directory appears complete or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from designer.errors import DesignerError
from designer.fileio import atomic_write_bytes
from designer.spec import ArchSpec
from export.deps import check_tensorrt
from export.options import EngineOptions
from export.parity import Parity


@dataclass(frozen=True)
class ExportRequest:
    """What to export and where. The engine options' batch range also sets Triton's batching."""

    source: Path
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
        from export.triton import check_target, model_config_schema

        if not (self.onnx or self.engine or self.triton_repo):
            raise DesignerError("nothing to export; give --onnx PATH, --engine PATH and/or --triton-repo DIR")
        if self.triton_repo:
            if not self.name:
                raise DesignerError("--triton-repo needs --name NAME, the model's name in Triton")
            check_target(self.triton_repo, self.name, self.instances)
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
    """Export ``request.source``; ``log`` receives one line per step."""
    from export.onnx_export import OPSET, export_onnx, verify_onnx
    from export.source import load_network

    request.check()
    network = load_network(request.source, request.prefer_ema)
    if not network.trained:
        log(f"note: {request.source} is an arch spec, so the exported weights are untrained (random initialisation)")
    model = export_onnx(network)
    parity = verify_onnx(model, network.model, network.spec)
    log("onnxruntime matches PyTorch: " + "; ".join(map(str, parity)))
    onnx_bytes = model.SerializeToString()
    written = []
    if request.onnx:
        atomic_write_bytes(request.onnx, onnx_bytes)
        written.append(request.onnx)
        log(f"wrote {request.onnx} (opset {OPSET}, dynamic batch, batch-norm folded, {len(onnx_bytes) / 1e6:.1f} MB)")
    plan = None
    if request.engine:
        from export.tensorrt_engine import build_engine

        options = request.engine_options
        plan = build_engine(onnx_bytes, options, request.verbose)
        atomic_write_bytes(request.engine, plan)
        written.append(request.engine)
        log(
            f"wrote {request.engine} ({options.precision}, batch {options.min_batch}..{options.max_batch} "
            f"tuned for {options.opt_batch}, {len(plan) / 1e6:.1f} MB)"
        )
    if request.triton_repo and request.name:
        from export.triton import TritonModel, onnx_tensors, write_repository

        inputs, outputs = onnx_tensors(model)
        triton_model = TritonModel(
            request.name,
            "tensorrt_plan" if plan is not None else "onnxruntime_onnx",
            inputs,
            outputs,
            max_batch=request.engine_options.max_batch,
            preferred_batches=request.engine_options.preferred_batches,
            instances=request.instances,
        )
        target = write_repository(request.triton_repo, triton_model, plan if plan is not None else onnx_bytes)
        written.append(target)
        log(f"wrote Triton model {target} ({triton_model.platform}); see {target / 'README.md'} to serve it")
    return ExportResult(network.spec, network.trained, tuple(parity), tuple(written))
