"""JPEG decoding on the GPU: which decoder to use, and a worker batch turned into network-sized images.

The GPU decoder is nvJPEG through ``torchvision.io.decode_jpeg`` (one batched call per batch; on
A100 and later GPUs baseline JPEGs go to the hardware decoder). Each decoded image's crop box is
then resized on the device to the resolution, bilinear with antialiasing like torchvision's
``RandomResizedCrop`` on tensors. A file nvJPEG refuses is decoded with Pillow instead, and one
Pillow refuses too is skipped and reported.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from designer.core.errors import DesignerError
from train.crops import Box
from train.images import RawBatch, channels_first, decode_bytes, describe

JpegDecode = Callable[[list[torch.Tensor]], list[torch.Tensor]]
"""1-D uint8 tensors holding JPEG files -> uint8 (C, H, W) images on the device."""


def pick_decoder(choice: str, device: torch.device, channels: int) -> tuple[JpegDecode | None, str]:
    """The GPU JPEG decoder for ``--decode choice`` (None: Pillow in the workers) and a line saying which."""
    pillow = "Pillow in the data-loading processes"
    if choice == "cpu":
        return None, pillow
    if device.type != "cuda":
        if choice == "gpu":
            raise DesignerError("--decode gpu needs a CUDA device; use --decode cpu (or auto) on the CPU")
        return None, pillow
    found = nvjpeg(device, channels)
    if isinstance(found, str):
        if choice == "gpu":
            raise DesignerError(
                f"--decode gpu: {found}; install the torchvision built for this torch, or use --decode cpu"
            )
        return None, f"{pillow} ({found})"
    return found, f"nvJPEG on {device} (the data-loading processes only read files)"


@functools.cache
def nvjpeg(device: torch.device, channels: int) -> JpegDecode | str:
    """torchvision's batched GPU decoder for ``device``, checked on a small JPEG; or why it cannot be used."""
    try:
        from torchvision.io import ImageReadMode, decode_jpeg
    except Exception as error:  # not installed, or built for another torch
        return f"torchvision is not importable ({describe(error)})"
    mode = ImageReadMode.RGB if channels == 3 else ImageReadMode.GRAY
    decode = functools.partial(decode_jpeg, mode=mode, device=device)
    try:
        (image,) = decode([_small_jpeg()])
    except Exception as error:  # a torchvision without nvJPEG, or a driver problem
        return f"torchvision cannot decode JPEGs on {device} ({describe(error)})"
    if tuple(image.shape) != (channels, 16, 24) or image.device != device:
        return f"torchvision's GPU decoder returned {tuple(image.shape)} on {image.device} for a 24x16 JPEG"
    return decode  # type: ignore[return-value]  # decode_jpeg returns a list for a list


def _small_jpeg() -> torch.Tensor:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 80, 40)).save(buffer, "JPEG")
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


@dataclass(frozen=True)
class DecodedFiles:
    """A batch between decoding and resizing: nvJPEG's images with their boxes, then Pillow's images."""

    images: list[torch.Tensor]  # uint8 (C, H, W) on the device, each its own size
    boxes: list[Box]
    pixels: torch.Tensor  # uint8 (M, C, R, R) on the host; (0,) when none
    labels: torch.Tensor  # on the host: the images' labels, then the pixels'


class DeviceImages:
    """A :class:`~train.images.RawBatch` as uint8 (N, C, R, R) images and their labels on ``device``.

    Two stages, :meth:`decode` and :meth:`resize`, which may run in two threads; calling the
    object runs both. Files neither nvJPEG nor Pillow can decode are left out of the batch and
    appended, with the reason, to ``unreadable``.
    """

    def __init__(
        self, jpeg: JpegDecode, device: torch.device, resolution: int, mode: str, unreadable: list[tuple[str, str]]
    ) -> None:
        self.jpeg, self.device, self.resolution, self.mode = jpeg, device, resolution, mode
        self.unreadable = unreadable

    def __call__(self, raw: RawBatch) -> tuple[torch.Tensor, torch.Tensor]:
        return self.resize(self.decode(raw))

    def decode(self, raw: RawBatch) -> DecodedFiles:
        files = raw.files()
        rescued: list[int] = []
        rescued_pixels: list[np.ndarray] = []
        try:
            images = self.jpeg(files) if files else []
            kept = list(range(len(files)))
        except RuntimeError:  # one bad file fails the whole call: decode one by one
            images, kept, rescued, rescued_pixels = self._one_by_one(raw, files)
        pixels = raw.pixels
        if rescued_pixels:
            rescued_batch = channels_first(rescued_pixels)
            pixels = torch.cat([rescued_batch, pixels]) if len(pixels) else rescued_batch
        labels = torch.cat([raw.labels[kept + rescued], raw.labels[len(files) :]])
        return DecodedFiles(images, [raw.boxes[i] for i in kept], pixels, labels)

    def resize(self, decoded: DecodedFiles) -> tuple[torch.Tensor, torch.Tensor]:
        parts = []
        if decoded.images:
            parts.append(resize_boxes(decoded.images, decoded.boxes, self.resolution))
        if len(decoded.pixels):
            parts.append(decoded.pixels.to(self.device, non_blocking=True))
        images = torch.cat(parts) if parts else torch.empty(0, dtype=torch.uint8, device=self.device)
        return images, decoded.labels.to(self.device, non_blocking=True)

    def _one_by_one(
        self, raw: RawBatch, files: list[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[int], list[int], list[np.ndarray]]:
        """nvJPEG file by file; Pillow for the files it refuses; the rest reported as unreadable."""
        images: list[torch.Tensor] = []
        kept: list[int] = []
        rescued: list[int] = []
        rescued_pixels: list[np.ndarray] = []
        for index, file in enumerate(files):
            try:
                images += self.jpeg([file])
                kept.append(index)
            except RuntimeError:
                pixels = self._pillow(raw, index, file)
                if pixels is not None:
                    rescued.append(index)
                    rescued_pixels.append(pixels)
        return images, kept, rescued, rescued_pixels

    def _pillow(self, raw: RawBatch, index: int, file: torch.Tensor) -> np.ndarray | None:
        try:
            return decode_bytes(file.numpy().tobytes(), raw.boxes[index], self.resolution, self.mode)
        except Exception as error:  # Pillow raises many kinds on broken files
            self.unreadable.append((raw.paths[index], describe(error)))
            return None


def resize_boxes(images: list[torch.Tensor], boxes: list[Box], resolution: int) -> torch.Tensor:
    """Each image's box resized to ``resolution`` square: uint8 (N, C, R, R) on the images' device.

    Bilinear with antialiasing, as torchvision's resized crop of a tensor; one resize per image
    (the images differ in size), rounded to uint8 once for the batch.
    """
    first = images[0]
    out = torch.empty((len(images), first.shape[0], resolution, resolution), dtype=torch.float32, device=first.device)
    for slot, image, (top, left, height, width) in zip(out, images, boxes):
        patch = image[None, :, top : top + height, left : left + width].float()
        slot.copy_(
            F.interpolate(patch, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)[0]
        )
    return out.round_().clamp_(0, 255).to(torch.uint8)
