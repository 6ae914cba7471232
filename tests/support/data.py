"""Tiny data sets written to disk in the formats ``designer train`` reads."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = ((220, 30, 30), (30, 200, 40), (40, 50, 210))


def write_image_folder(root: Path, train_per_class: int = 8, val_per_class: int = 3, seed: int = 0) -> Path:
    """Three classes of noisy solid colours as PNGs; one grey image and one nested, non-square one."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label, colour in enumerate(COLOURS):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True)
            for index in range(count):
                shape = (18, 24, 3) if index == 1 else (20, 20, 3)
                pixels = np.clip(np.array(colour) + rng.normal(0, 25, shape), 0, 255).astype(np.uint8)
                path = folder / ("nested" if index == 1 else "") / f"{index}.png"
                path.parent.mkdir(exist_ok=True)
                Image.fromarray(pixels).save(path)
    Image.fromarray(np.full((20, 20), 128, np.uint8), mode="L").save(root / "train" / "class0" / "grey.png")
    return root


def write_idx(root: Path, train: int = 40, test: int = 12, side: int = 8, classes: int = 4) -> Path:
    """IDX files (train gzip-compressed, t10k raw) whose class sets the image brightness."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for prefix, count, opener in (("train", train, gzip.open), ("t10k", test, open)):
        labels = np.arange(count) % classes
        base = (labels * 255 // max(classes - 1, 1))[:, None, None]
        images = np.clip(base + rng.normal(0, 20, (count, side, side)), 0, 255).astype(np.uint8)
        suffix = ".gz" if opener is gzip.open else ""
        with opener(root / f"{prefix}-images-idx3-ubyte{suffix}", "wb") as handle:
            handle.write(bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (count, side, side)))
            handle.write(images.tobytes())
        with opener(root / f"{prefix}-labels-idx1-ubyte{suffix}", "wb") as handle:
            handle.write(bytes([0, 0, 8, 1]) + count.to_bytes(4, "big") + labels.astype(np.uint8).tobytes())
    return root
