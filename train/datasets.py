"""Labelled image data sets on disk: find the format of a directory and read its two splits.

Formats (nothing is ever downloaded):

* **ImageFolder**: ``DIR/train/<class>/*.jpg`` and ``DIR/val/<class>/...`` with the same class
  folders; any image Pillow reads. Files are decoded later, in the data-loading processes.
* **CIFAR-10/100, python** (``cifar-10-batches-py``: ``data_batch_1..5``, ``test_batch``;
  ``cifar-100-python``: ``train``, ``test``, ``meta``).
* **CIFAR-10/100, binary** (``cifar-10-batches-bin``: ``data_batch_1..5.bin``, ``test_batch.bin``;
  ``cifar-100-binary``: ``train.bin``, ``test.bin``).
* **IDX** (MNIST, Fashion-MNIST): ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` and the
  ``t10k-`` pair, optionally gzip-compressed.

``DIR`` may be the folder holding the files or its parent (``--data ~/data`` finds
``~/data/cifar-10-batches-py``). The array formats are read whole into uint8 tensors.
"""

from __future__ import annotations

import gzip
import os
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from designer.core.errors import DesignerError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_IDX = re.compile(r"^(train|t10k)-(images|labels)[-.]idx([13])-ubyte(\.gz)?$")
_CIFAR_SIDE = 32


@dataclass(frozen=True)
class TensorSplit:
    """A split held in memory: ``images`` uint8 (N, C, H, W), ``labels`` int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class FileSplit:
    """A split of image files, decoded when loaded."""

    files: tuple[str, ...]
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


Split = TensorSplit | FileSplit


@dataclass(frozen=True)
class ImageData:
    format: str
    root: Path
    classes: tuple[str, ...]
    train: Split
    val: Split

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def describe(self) -> str:
        return f"{self.format} at {self.root}: {len(self.train)} train / {len(self.val)} val images, {self.num_classes} classes"


def load_data(root: str | Path) -> ImageData:
    """Read the data set in ``root`` (or in the one sub-folder of ``root`` that holds one)."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DesignerError(f"data directory {root} does not exist; check --data")
    if not root.is_dir():
        raise DesignerError(f"--data {root} is a file; pass the directory that holds the data set")
    if not os.access(root, os.R_OK | os.X_OK):
        raise DesignerError(f"cannot read data directory {root} (permission denied); check its permissions")
    reader = _detect(root)
    if reader is None:
        found = [(child, r) for child in _subdirs(root) if (r := _detect(child)) is not None]
        if len(found) > 1:
            names = ", ".join(child.name for child, _ in found)
            raise DesignerError(f"{root} holds several data sets ({names}); pass one of them as --data")
        if not found:
            raise DesignerError(
                f"{root} holds no data set designer reads; give a directory with train/ and val/ class folders "
                "(ImageFolder), CIFAR batches (cifar-10-batches-py or -bin) or IDX files (train-images-idx3-ubyte.gz)"
            )
        root, reader = found[0]
    data = reader(root)
    for name, split in (("train", data.train), ("val", data.val)):
        if len(split) == 0:
            raise DesignerError(f"the {name} split of {root} is empty; add images to it")
        if int(split.labels.max()) >= data.num_classes or int(split.labels.min()) < 0:
            raise DesignerError(
                f"{root}: {name} labels fall outside the {data.num_classes} classes; the files are damaged"
            )
    return data


def channel_stats(data: ImageData) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std in [0, 1] of the training images (ImageNet's for image files)."""
    split = data.train
    if isinstance(split, FileSplit):
        return IMAGENET_MEAN, IMAGENET_STD
    channels = split.images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    for chunk in split.images.split(4096):
        values = chunk.to(torch.float64).div_(255).transpose(0, 1).reshape(channels, -1)
        total += values.sum(1)
        squares += values.square().sum(1)
    count = split.images[:, 0].numel()
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(1e-12).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


# --- detection ---------------------------------------------------------------------------


def _subdirs(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as error:
        raise DesignerError(f"cannot read data directory {root} ({error.strerror}); check its permissions") from None


def _detect(folder: Path) -> Callable[[Path], ImageData] | None:
    if (folder / "train").is_dir():
        return _read_image_folder
    if (folder / "data_batch_1").is_file() or ((folder / "meta").is_file() and (folder / "train").is_file()):
        return _read_cifar_python
    if (folder / "data_batch_1.bin").is_file() or (folder / "train.bin").is_file():
        return _read_cifar_binary
    if _idx_files(folder):
        return _read_idx
    return None


# --- ImageFolder -------------------------------------------------------------------------


def _read_image_folder(root: Path) -> ImageData:
    train_dir, val_dir = root / "train", root / "val"
    if not val_dir.is_dir():
        raise DesignerError(f"{root} has train/ but no val/; add a val/ folder with the same class folders")
    classes = tuple(p.name for p in _subdirs(train_dir))
    if not classes:
        raise DesignerError(f"{train_dir} has no class folders; put each class's images in train/<class>/")
    val_classes = tuple(p.name for p in _subdirs(val_dir))
    if val_classes != classes:
        missing = sorted(set(classes) ^ set(val_classes))
        raise DesignerError(
            f"train/ and val/ of {root} have different class folders ({', '.join(missing[:5])}); make them match"
        )
    train = _scan(train_dir, classes, require_each=True)
    val = _scan(val_dir, classes, require_each=False)
    return ImageData("imagefolder", root, classes, train, val)


def _scan(split_dir: Path, classes: tuple[str, ...], require_each: bool) -> FileSplit:
    files: list[str] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        found = sorted(
            os.path.join(folder, file)
            for folder, _, names in os.walk(split_dir / name, onerror=_unreadable, followlinks=True)
            for file in names
            if os.path.splitext(file)[1].lower() in IMAGE_SUFFIXES
        )
        if require_each and not found:
            raise DesignerError(f"class folder {split_dir / name} has no images; add some or remove the folder")
        files += found
        labels += [index] * len(found)
    return FileSplit(tuple(files), torch.tensor(labels, dtype=torch.int64))


def _unreadable(error: OSError) -> None:
    raise DesignerError(f"cannot read {error.filename} ({error.strerror}); check its permissions")


# --- CIFAR -------------------------------------------------------------------------------


def _damaged(path: Path, what: str, reason: str) -> DesignerError:
    return DesignerError(f"cannot read {path} ({reason}); the {what} files look damaged, extract them again")


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError) as error:
        raise _damaged(path, what, getattr(error, "strerror", None) or str(error)) from None


def _unpickle(path: Path) -> dict[bytes, object]:
    try:
        data = pickle.loads(_read_bytes(path, "CIFAR"), encoding="bytes")
    except Exception as error:  # pickle raises many kinds on damaged input
        raise _damaged(path, "CIFAR", type(error).__name__) from None
    if not isinstance(data, dict):
        raise _damaged(path, "CIFAR", "not a CIFAR batch")
    return data


def _cifar_images(rows: np.ndarray, path: Path) -> torch.Tensor:
    if rows.ndim != 2 or rows.shape[1] != 3 * _CIFAR_SIDE**2:
        raise _damaged(path, "CIFAR", f"rows of {rows.shape[-1]} bytes, expected {3 * _CIFAR_SIDE**2}")
    return torch.from_numpy(np.ascontiguousarray(rows, dtype=np.uint8)).view(-1, 3, _CIFAR_SIDE, _CIFAR_SIDE)


def _read_cifar_python(root: Path) -> ImageData:
    hundred = (root / "meta").is_file()
    label_key = b"fine_labels" if hundred else b"labels"
    train_files = [root / "train"] if hundred else [root / f"data_batch_{i}" for i in range(1, 6)]
    val_file = root / ("test" if hundred else "test_batch")

    def read(paths: list[Path]) -> TensorSplit:
        images, labels = [], []
        for path in paths:
            batch = _unpickle(path)
            if b"data" not in batch or label_key not in batch:
                raise _damaged(path, "CIFAR", f"no data or {label_key.decode()} entry")
            images.append(_cifar_images(np.asarray(batch[b"data"]), path))
            labels.append(torch.tensor(batch[label_key], dtype=torch.int64))
        return TensorSplit(torch.cat(images), torch.cat(labels))

    train, val = read(train_files), read([val_file])
    meta_path = root / ("meta" if hundred else "batches.meta")
    names_key = b"fine_label_names" if hundred else b"label_names"
    names = _unpickle(meta_path).get(names_key) if meta_path.is_file() else None
    classes = tuple(n.decode() for n in names) if isinstance(names, list) else _numbered(train.labels)
    return ImageData("cifar-python", root, classes, train, val)


def _read_cifar_binary(root: Path) -> ImageData:
    hundred = (root / "train.bin").is_file()
    label_bytes = 2 if hundred else 1
    train_files = [root / "train.bin"] if hundred else [root / f"data_batch_{i}.bin" for i in range(1, 6)]
    val_file = root / ("test.bin" if hundred else "test_batch.bin")
    record = label_bytes + 3 * _CIFAR_SIDE**2

    def read(paths: list[Path]) -> TensorSplit:
        images, labels = [], []
        for path in paths:
            raw = np.frombuffer(_read_bytes(path, "CIFAR"), dtype=np.uint8)
            if raw.size == 0 or raw.size % record:
                raise _damaged(path, "CIFAR", f"{raw.size} bytes is not a whole number of {record}-byte records")
            rows = raw.reshape(-1, record)
            labels.append(torch.from_numpy(rows[:, label_bytes - 1].astype(np.int64)))
            images.append(_cifar_images(rows[:, label_bytes:], path))
        return TensorSplit(torch.cat(images), torch.cat(labels))

    train, val = read(train_files), read([val_file])
    names_file = root / ("fine_label_names.txt" if hundred else "batches.meta.txt")
    names = names_file.read_text().split() if names_file.is_file() else []
    classes = tuple(names) if len(names) > int(train.labels.max()) else _numbered(train.labels)
    return ImageData("cifar-binary", root, classes, train, val)


# --- IDX (MNIST family) ------------------------------------------------------------------


def _idx_files(folder: Path) -> dict[tuple[str, str], Path]:
    try:
        names = [p for p in folder.iterdir() if p.is_file()]
    except OSError:
        return {}
    found = {}
    for path in sorted(names):
        match = _IDX.match(path.name)
        if match:
            found[(match.group(1), match.group(2))] = path
    return found if len(found) == 4 else {}


def _read_idx_array(path: Path) -> np.ndarray:
    raw = _read_bytes(path, "IDX")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise _damaged(path, "IDX", "no unsigned-byte IDX header")
    dims = raw[3]
    header = 4 + 4 * dims
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(raw) != header + int(np.prod(shape)):
        raise _damaged(path, "IDX", f"{len(raw) - header} data bytes for shape {shape}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_idx(root: Path) -> ImageData:
    files = _idx_files(root)

    def read(prefix: str) -> TensorSplit:
        images = _read_idx_array(files[(prefix, "images")])
        labels = _read_idx_array(files[(prefix, "labels")])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise _damaged(
                files[(prefix, "images")], "IDX", f"images {images.shape} do not match labels {labels.shape}"
            )
        return TensorSplit(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))

    train, val = read("train"), read("t10k")
    return ImageData("idx", root, _numbered(train.labels), train, val)


def _numbered(labels: torch.Tensor) -> tuple[str, ...]:
    return tuple(str(i) for i in range(int(labels.max()) + 1))
