"""One process or many: the torchrun environment, the process group and the few collectives we use.

Under ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` set) each process takes GPU
``LOCAL_RANK`` and joins an NCCL group (gloo on CPU). Without it everything here degrades to
the single-process case, so the training loop has one code path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from designer.core.errors import DesignerError


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def log(self, message: str) -> None:
        if self.main:
            print(message, flush=True)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def all_sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over the processes."""
        if self.world == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, obj: Any) -> list[Any]:
        """``obj`` of every process, by rank."""
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out


def pick_device(choice: str, local_rank: int) -> torch.device:
    """``auto``: this process's GPU when CUDA is available, else the CPU."""
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DesignerError("--device cuda but no CUDA GPU is visible; use --device cpu")
    if local_rank >= torch.cuda.device_count():
        raise DesignerError(
            f"LOCAL_RANK {local_rank} has no GPU ({torch.cuda.device_count()} visible); "
            "start at most one process per GPU (torchrun --nproc-per-node)"
        )
    return torch.device("cuda", local_rank)


@contextmanager
def process_group(device: str) -> Iterator[Dist]:
    """This process's place in the job; joins (and finally leaves) the group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = pick_device(device, local_rank)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    owner = world > 1 and not dist.is_initialized()
    if owner:
        if chosen.type == "cuda":
            dist.init_process_group("nccl", device_id=chosen)
        else:
            dist.init_process_group("gloo")
    try:
        yield Dist(rank, world, local_rank, chosen)
    finally:  # on an error torchrun stops the other processes
        if owner:
            dist.destroy_process_group()
