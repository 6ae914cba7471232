"""Image files as the data-loading processes hand them over: JPEG bytes for the GPU, or decoded pixels.

:class:`ImageFiles` is the dataset the worker processes run. Each item reads one file and its
header and picks the file's crop box (:mod:`train.crops`). With GPU decoding on, baseline colour
JPEGs leave as bytes with their box; every other file (PNG, grey, CMYK or progressive JPEG, or all
files when decoding on the CPU) is decoded here with Pillow, cropped and resized to the resolution.
A file that cannot be read or decoded becomes a note of why: a bad file costs its image, never the
epoch. :func:`collate` packs a batch into a few large tensors, one shared-memory transfer each
however many images the batch holds.
"""

from __future__ import annotations

import dataclasses
import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from train.crops import Box, Cropper
from train.datasets import FileSplit


@dataclass(frozen=True)
class Encoded:
    """A JPEG file left for the GPU decoder."""

    data: bytes
    box: Box
    label: int
    path: str


@dataclass(frozen=True)
class Decoded:
    """An image decoded and cropped here: uint8 (H, W) or (H, W, C)."""

    pixels: np.ndarray
    label: int


@dataclass(frozen=True)
class Unreadable:
    path: str
    reason: str


Item = Encoded | Decoded | Unreadable


@dataclass(frozen=True)
class RawBatch:
    """A batch from the workers: JPEG files to decode on the device, then images decoded already.

    ``labels`` holds the encoded images' labels first, then the decoded ones'.
    """

    encoded: torch.Tensor  # uint8 (total bytes,): the JPEG files one after the other
    sizes: list[int]
    boxes: list[Box]
    paths: list[str]
    pixels: torch.Tensor  # uint8 (decoded, C, R, R); (0,) when none
    labels: torch.Tensor
    unreadable: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.labels)

    def files(self) -> list[torch.Tensor]:
        """The JPEG files as 1-D uint8 tensors (views of ``encoded``)."""
        return list(self.encoded.split(self.sizes)) if self.sizes else []

    def pin_memory(self) -> RawBatch:  # called by the DataLoader's pinning thread
        return dataclasses.replace(self, pixels=self.pixels.pin_memory())


class ImageFiles(Dataset[Item]):
    """Items keyed by ``(epoch, index)``: the epoch seeds the training crop of image ``index``."""

    def __init__(self, split: FileSplit, crop: Cropper, resolution: int, mode: str, encoded: bool) -> None:
        self.files, self.labels = split.files, split.labels.tolist()
        self.crop, self.resolution, self.mode, self.encoded = crop, resolution, mode, encoded

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> Item:
        epoch, index = key
        path = self.files[index]
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            with Image.open(io.BytesIO(data)) as image:
                box = self.crop.box(image.width, image.height, epoch, index)
                if self.encoded and gpu_decodable(image):
                    return Encoded(data, box, self.labels[index], path)
                return Decoded(crop_resize(image, box, self.resolution, self.mode), self.labels[index])
        except Exception as error:  # Pillow raises OSError, ValueError, SyntaxError, ... on broken files
            return Unreadable(path, describe(error))


def gpu_decodable(image: Image.Image) -> bool:
    """A baseline JPEG in colour: what nvJPEG's batched hardware decoder takes."""
    return image.format == "JPEG" and image.mode == "RGB" and not image.info.get("progressive")


def crop_resize(image: Image.Image, box: Box, resolution: int, mode: str) -> np.ndarray:
    """``box`` of an opened image in Pillow ``mode``, resized to ``resolution`` square (bilinear, antialiased).

    A JPEG is decoded at 1/2, 1/4 or 1/8 scale when the box still spans ``resolution`` pixels there.
    """
    top, left, height, width = box
    full_width = image.width
    factor = min(1.0, resolution / min(height, width))
    image.draft(mode, (math.ceil(image.width * factor), math.ceil(image.height * factor)))
    shrink = image.width / full_width
    region = (left * shrink, top * shrink, (left + width) * shrink, (top + height) * shrink)
    resized = image.convert(mode).resize((resolution, resolution), Image.Resampling.BILINEAR, box=region)
    return np.asarray(resized)


def decode_bytes(data: bytes, box: Box, resolution: int, mode: str) -> np.ndarray:
    """:func:`crop_resize` of an encoded file held in memory."""
    with Image.open(io.BytesIO(data)) as image:
        return crop_resize(image, box, resolution, mode)


def describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def collate(items: list[Item]) -> RawBatch:
    encoded = [item for item in items if isinstance(item, Encoded)]
    decoded = [item for item in items if isinstance(item, Decoded)]
    data = bytearray().join(item.data for item in encoded)
    return RawBatch(
        encoded=torch.frombuffer(data, dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8),
        sizes=[len(item.data) for item in encoded],
        boxes=[item.box for item in encoded],
        paths=[item.path for item in encoded],
        pixels=channels_first([item.pixels for item in decoded]),
        labels=torch.tensor([item.label for item in encoded] + [item.label for item in decoded], dtype=torch.int64),
        unreadable=[(item.path, item.reason) for item in items if isinstance(item, Unreadable)],
    )


def channels_first(arrays: list[np.ndarray]) -> torch.Tensor:
    """Pillow arrays (H, W) or (H, W, C) of one shape as a uint8 (N, C, H, W) tensor."""
    if not arrays:
        return torch.empty(0, dtype=torch.uint8)
    stacked = np.stack(arrays)
    stacked = stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(stacked))
