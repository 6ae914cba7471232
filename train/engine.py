"""The network in training form and one optimizer step: precision, memory format, DDP, compile, EMA.

Shared by the training loop and ``benchmarks/train_throughput.py`` so that the benchmark times
exactly the step that training runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from designer.core.errors import DesignerError
from designer.core.reference import REFERENCES, reference_spec
from designer.core.spec import ArchSpec
from designer.nn.model import DesignedNet, build_model
from train.distributed import Dist


def resolve_arch(arch: str | ArchSpec) -> ArchSpec:
    """A spec, an arch JSON file or a reference network name (at its standard 224 resolution)."""
    if isinstance(arch, ArchSpec):
        return arch
    if arch in REFERENCES and not Path(arch).exists():
        return reference_spec(arch)
    return ArchSpec.load(arch)


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``--amp`` on ``device``; None runs in float32."""
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "fp16" and device.type != "cuda":
        raise DesignerError("--amp fp16 needs a CUDA GPU; use --amp bf16 or --amp off on the CPU")
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16 if amp == "fp16" else torch.bfloat16


def training_model(
    spec: ArchSpec, dist: Dist, *, bn_momentum: float = 0.1, channels_last: bool = True, sync_bn: bool = False
) -> DesignedNet:
    """The spec's network on this process's device, ready for :func:`parallel`."""
    model: nn.Module = build_model(spec)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = bn_momentum
    if sync_bn and dist.world > 1:
        if not dist.cuda:
            raise DesignerError("--sync-bn works on CUDA GPUs only (a PyTorch limit); drop it on the CPU")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(dist.device, memory_format=layout)  # type: ignore[call-overload]  # documented; missing from the stubs
    assert isinstance(model, DesignedNet)
    return model


def parallel(model: nn.Module, dist: Dist, compile: bool = False) -> nn.Module:
    """DDP across the torchrun processes, then ``torch.compile`` if asked."""
    if dist.world > 1:
        model = DistributedDataParallel(model, device_ids=[dist.device.index] if dist.cuda else None)
    return cast(nn.Module, torch.compile(model)) if compile else model  # an OptimizedModule


def ema_of(model: nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of ``model``'s weights and batch-norm statistics."""
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


class TrainStep:
    """Forward under autocast, cross-entropy, scaled backward, optimizer and schedule step, EMA update."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        amp: torch.dtype | None,
        device: torch.device,
        label_smoothing: float = 0.0,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        ema: AveragedModel | None = None,
        ema_source: nn.Module | None = None,
    ) -> None:
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.amp, self.device, self.label_smoothing = amp, device, label_smoothing
        self.ema, self.ema_source = ema, ema_source
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)

    def __call__(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """One step on a batch; returns the (detached) mean loss."""
        with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
            logits = self.model(x)
        loss = F.cross_entropy(logits.float(), targets, label_smoothing=self.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()
        if self.ema is not None and self.ema_source is not None:
            self.ema.update_parameters(self.ema_source)
        return loss.detach()
