"""Per-process batches of a split: uint8 images and int64 labels, already on the training device.

Training batches follow a :class:`~torch.utils.data.DistributedSampler` (shuffled from the seed
and the epoch alone, so an epoch's order is reproducible and resumable; with one process it is a
plain seeded shuffle) and drop the last partial batch. Evaluation batches take every
``world``-th image without padding, so each image counts once.

In-memory splits move to the device once and are indexed there; their random crops happen later,
batched on the device (:mod:`train.augment`). Image files arrive cropped and resized to the
resolution: the training crop of the whole image (:class:`~train.crops.RandomCrop`) or the
evaluation centre crop, decoded either on the GPU with nvJPEG, the ``workers`` processes only
reading the files (:mod:`train.jpeg`, prepared a batch ahead in a thread), or with Pillow in the
workers (:mod:`train.images`). Files that cannot be decoded are skipped and listed in
``unreadable`` for the epoch.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from designer.core.errors import DesignerError
from train.crops import Cropper
from train.datasets import Split, TensorSplit
from train.distributed import Dist
from train.images import ImageFiles, Item, RawBatch, collate
from train.jpeg import DecodedFiles, DeviceImages, pick_decoder
from train.prefetch import prefetched

Batch = tuple[torch.Tensor, torch.Tensor]


class EpochKeys(Sampler[tuple[int, int]]):
    """``(epoch, index)`` for each index of ``order``: the epoch seeds each image's crop."""

    def __init__(self, order: DistributedSampler[int] | list[int]) -> None:
        self.order, self.epoch = order, 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((self.epoch, index) for index in self.order)

    def __len__(self) -> int:
        return len(self.order)


class Batches:
    def __init__(
        self,
        split: Split,
        dist: Dist,
        batch_size: int,
        *,
        train: bool,
        seed: int = 0,
        workers: int = 0,
        crop: Cropper | None = None,
        resolution: int = 0,
        mode: str = "RGB",
        decode: str = "auto",
    ) -> None:
        """``crop``, ``resolution``, ``mode`` ("RGB" or "L") and ``decode`` (auto, gpu, cpu) apply to image files."""
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
        self.unreadable: list[tuple[str, str]] = []
        self.decoding = ""
        self.loader: DataLoader[Item] | None = None
        self.on_device: DeviceImages | None = None
        self.keys = EpochKeys(self.sampler)
        if isinstance(split, TensorSplit):
            self.images = split.images.to(self.device)
            self.labels = split.labels.to(self.device)
            return
        if crop is None or resolution < 1:
            raise ValueError("image files need a crop and a resolution")
        jpeg, self.decoding = pick_decoder(decode, self.device, 3 if mode == "RGB" else 1)
        self.on_device = DeviceImages(jpeg, self.device, resolution, mode, self.unreadable) if jpeg else None
        self.loader = DataLoader(
            ImageFiles(split, crop, resolution, mode, encoded=jpeg is not None),
            batch_size=batch_size,
            sampler=self.keys,
            drop_last=train,
            num_workers=workers,
            collate_fn=collate,
            pin_memory=dist.cuda and jpeg is None,
            persistent_workers=workers > 0,
            generator=torch.Generator().manual_seed(seed),  # never draws from the global generator
        )

    def __len__(self) -> int:
        count = len(self.sampler)
        return count // self.batch_size if self.train else -(-count // self.batch_size)

    @property
    def images_per_epoch(self) -> int:
        """Images an epoch holds (the files skipped as unreadable included)."""
        return len(self) * self.batch_size if self.train else len(self.sampler)

    def epoch(self, epoch: int) -> Generator[Batch, None, None]:
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(epoch)
        self.unreadable.clear()
        if self.loader is None:
            order = torch.tensor(list(self.sampler), dtype=torch.int64, device=self.device)
            for index in order[: self.images_per_epoch].split(self.batch_size):
                yield self.images[index], self.labels[index]
            return
        self.keys.epoch = epoch
        raws = iter(self.loader)
        if self.on_device is None:
            yield from self._checked(map(self._from_host, raws))
            return
        stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        decoded = prefetched(raws, self._decode, stream)  # nvJPEG in one thread, resizing in another
        resized = prefetched(decoded, self.on_device.resize, stream)
        try:
            yield from self._checked(resized)
        finally:  # stop the resizing thread, then the decoding one
            resized.close()
            decoded.close()

    def _checked(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        for images, labels in batches:
            if len(labels) == 0:
                path, reason = self.unreadable[-1]
                raise DesignerError(
                    f"no image of a batch could be decoded (the last: {path}, {reason}); check the data set's files"
                )
            yield images, labels

    def _decode(self, raw: RawBatch) -> DecodedFiles:
        assert self.on_device is not None
        self.unreadable.extend(raw.unreadable)
        return self.on_device.decode(raw)

    def _from_host(self, raw: RawBatch) -> Batch:
        self.unreadable.extend(raw.unreadable)
        return raw.pixels.to(self.device, non_blocking=True), raw.labels.to(self.device, non_blocking=True)
