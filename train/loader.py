"""Per-process batches of a split: uint8 images and int64 labels, already on the training device.

Training batches follow a :class:`~torch.utils.data.DistributedSampler` (shuffled from the seed
and the epoch alone, so an epoch's order is reproducible and resumable; with one process it is a
plain seeded shuffle) and drop the last partial batch. Evaluation batches take every
``world``-th image without padding, so each image counts once.

In-memory splits move to the device once and are indexed there. Image files are decoded by
``workers`` processes with Pillow into squares of side ``size`` (resize the shorter side, crop
the centre); the random crops happen later, batched on the device.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from designer.core.errors import DesignerError
from train.datasets import FileSplit, Split, TensorSplit
from train.distributed import Dist

Batch = tuple[torch.Tensor, torch.Tensor]


class DecodedImages(Dataset[Batch]):
    """Image files as uint8 (C, size, size) tensors in Pillow ``mode`` ("RGB" or "L")."""

    def __init__(self, split: FileSplit, size: int, mode: str) -> None:
        self.files, self.labels, self.size, self.mode = split.files, split.labels, size, mode

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Batch:
        path = self.files[index]
        try:
            with Image.open(path) as image:
                image.draft(self.mode, (self.size, self.size))  # JPEG: decode at a reduced scale
                square = ImageOps.fit(image.convert(self.mode), (self.size, self.size), Image.Resampling.BILINEAR)
        except Exception as error:  # Pillow raises OSError, ValueError, SyntaxError, ... on broken files
            raise DesignerError(f"cannot decode image {path} ({error}); remove or replace the file") from None
        array = torch.from_numpy(np.asarray(square).copy())
        pixels = array.unsqueeze(0) if array.ndim == 2 else array.permute(2, 0, 1)
        return pixels, self.labels[index]


class Batches:
    def __init__(
        self,
        split: Split,
        dist: Dist,
        batch_size: int,
        *,
        train: bool,
        seed: int = 0,
        size: int = 0,
        mode: str = "RGB",
        workers: int = 0,
    ) -> None:
        self.device = dist.device
        self.batch_size = batch_size
        self.train = train
        self.sampler: DistributedSampler[int] | list[int]
        if train:
            self.sampler = DistributedSampler(
                range(len(split)),  # type: ignore[arg-type]  # any sized sequence of indices works
                num_replicas=dist.world,
                rank=dist.rank,
                shuffle=True,
                seed=seed,
            )
        else:
            self.sampler = list(range(dist.rank, len(split), dist.world))
        self.split = split
        self.loader: DataLoader[Batch] | None = None
        if isinstance(split, TensorSplit):
            self.images = split.images.to(self.device)
            self.labels = split.labels.to(self.device)
        else:
            self.loader = DataLoader(
                DecodedImages(split, size, mode),
                batch_size=batch_size,
                sampler=self.sampler,
                drop_last=train,
                num_workers=workers,
                pin_memory=dist.cuda,
                generator=torch.Generator().manual_seed(seed),  # never draws from the global generator
            )

    def __len__(self) -> int:
        count = len(self.sampler)
        return count // self.batch_size if self.train else -(-count // self.batch_size)

    @property
    def images_per_epoch(self) -> int:
        return len(self) * self.batch_size if self.train else len(self.sampler)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(epoch)
        if self.loader is None:
            order = torch.tensor(list(self.sampler), dtype=torch.int64, device=self.device)
            for index in order[: self.images_per_epoch].split(self.batch_size):
                yield self.images[index], self.labels[index]
            return
        try:
            for images, labels in self.loader:
                yield images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
        except DesignerError as error:  # from a worker: keep the one line, not the worker's traceback
            last = str(error).strip().splitlines()[-1]
            raise DesignerError(last.removeprefix(f"{DesignerError.__module__}.{DesignerError.__name__}: ")) from None
