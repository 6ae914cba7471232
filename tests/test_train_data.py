"""Data formats of ``designer train``: ImageFolder, CIFAR python/binary, IDX; and their errors.

The data-set writers shared with the other training tests live in ``tests/support/data.py``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from support.data import write_idx, write_image_folder

from designer.core.errors import DesignerError
from train.crops import CentreCrop
from train.datasets import FileSplit, TensorSplit, channel_stats, load_data
from train.distributed import Dist
from train.loader import Batches

CPU = Dist(rank=0, world=1, local_rank=0, device=torch.device("cpu"))


def cifar_arrays(count: int, seed: int, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 3072), dtype=np.uint8), rng.integers(0, classes, count)


def write_cifar10_python(root: Path) -> Path:
    root.mkdir(parents=True)
    for index, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
        data, labels = cifar_arrays(4, index)
        (root / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels.tolist()}))
    names = [f"name{i}".encode() for i in range(10)]
    (root / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    return root


def write_cifar10_binary(root: Path) -> Path:
    root.mkdir(parents=True)
    for index, name in enumerate([*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"]):
        data, labels = cifar_arrays(4, index)
        (root / name).write_bytes(np.concatenate([labels[:, None].astype(np.uint8), data], 1).tobytes())
    (root / "batches.meta.txt").write_text("\n".join(f"name{i}" for i in range(10)) + "\n")
    return root


def test_image_folder_scans_classes_and_decodes_squares(tmp_path):
    data = load_data(write_image_folder(tmp_path / "folder"))
    assert data.format == "imagefolder" and data.classes == ("class0", "class1", "class2")
    assert isinstance(data.train, FileSplit) and (len(data.train), len(data.val)) == (25, 9)
    assert data.train.labels.bincount().tolist() == [9, 8, 8]
    assert any("nested" in name for name in data.train.files)
    batches = Batches(data.train, CPU, 25, train=False, crop=CentreCrop(1.0), resolution=16, mode="RGB")
    images, labels = next(batches.epoch(0))
    assert images.shape == (25, 3, 16, 16) and images.dtype == torch.uint8 and labels.shape == (25,)
    grey = data.train.files.index(str(tmp_path / "folder" / "train" / "class0" / "grey.png"))
    assert torch.equal(images[grey, 0], images[grey, 1])  # a grey image becomes three equal channels
    red = images[labels == 0].float().mean((0, 2, 3))
    assert red[0] > red[1] and red[0] > red[2]
    mono, _ = next(Batches(data.val, CPU, 4, train=False, crop=CentreCrop(1.0), resolution=12, mode="L").epoch(0))
    assert mono.shape == (4, 1, 12, 12)


def test_cifar_python_and_binary_read_the_same_images(tmp_path):
    python = load_data(write_cifar10_python(tmp_path / "py" / "cifar-10-batches-py"))
    binary = load_data(write_cifar10_binary(tmp_path / "bin" / "cifar-10-batches-bin"))
    found_in_parent = load_data(tmp_path / "py")  # --data may name the folder above the batches
    assert (python.format, binary.format, found_in_parent.root.name) == (
        "cifar-python",
        "cifar-binary",
        python.root.name,
    )
    for split in ("train", "val"):
        a, b = getattr(python, split), getattr(binary, split)
        assert isinstance(a, TensorSplit) and a.images.shape == (20 if split == "train" else 4, 3, 32, 32)
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    rows, labels = cifar_arrays(4, 0)
    assert torch.equal(python.train.images[:4].flatten(1), torch.from_numpy(rows))
    assert python.train.labels[:4].tolist() == labels.tolist()
    assert python.classes == binary.classes == tuple(f"name{i}" for i in range(10))


def test_cifar100_reads_fine_labels(tmp_path):
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    for name, seed in (("train", 0), ("test", 1)):
        data, fine = cifar_arrays(6, seed, classes=100)
        (root / name).write_bytes(
            pickle.dumps({b"data": data, b"fine_labels": fine.tolist(), b"coarse_labels": [0] * 6})
        )
    (root / "meta").write_bytes(pickle.dumps({b"fine_label_names": [f"c{i}".encode() for i in range(100)]}))
    binary = tmp_path / "cifar-100-binary"
    binary.mkdir()
    for name, seed in (("train.bin", 0), ("test.bin", 1)):
        data, fine = cifar_arrays(6, seed, classes=100)
        coarse = np.zeros((6, 1), np.uint8)
        (binary / name).write_bytes(np.concatenate([coarse, fine[:, None].astype(np.uint8), data], 1).tobytes())
    python_data, binary_data = load_data(root), load_data(binary)
    assert python_data.num_classes == 100
    assert python_data.train.labels.tolist() == binary_data.train.labels.tolist() == cifar_arrays(6, 0, 100)[1].tolist()


def test_idx_reads_compressed_and_raw_files_and_channel_stats(tmp_path):
    data = load_data(write_idx(tmp_path / "fashion"))
    assert data.format == "idx" and data.classes == ("0", "1", "2", "3")
    assert isinstance(data.train, TensorSplit) and data.train.images.shape == (40, 1, 8, 8)
    assert data.val.images.shape == (12, 1, 8, 8) and data.val.labels.tolist() == [i % 4 for i in range(12)]
    (mean,), (std,) = channel_stats(data)
    pixels = data.train.images.double() / 255
    assert mean == pytest.approx(pixels.mean().item()) and std == pytest.approx(pixels.std(unbiased=False).item())


def _missing(root: Path) -> Path:
    return root / "missing"


def _a_file(root: Path) -> Path:
    (root / "file.txt").write_text("x")
    return root / "file.txt"


def _empty(root: Path) -> Path:
    return root


def _no_val(root: Path) -> Path:
    (root / "train" / "a").mkdir(parents=True)
    return root


def _two_sets(root: Path) -> Path:
    write_idx(root / "mnist")
    write_cifar10_binary(root / "cifar")
    return root


def _other_val_classes(root: Path) -> Path:
    write_image_folder(root)
    (root / "val" / "class2").rename(root / "val" / "other")
    return root


def _empty_class(root: Path) -> Path:
    write_image_folder(root)
    for split in ("train", "val"):
        (root / split / "empty").mkdir()
    return root


def _truncated_idx(root: Path) -> Path:
    path = write_idx(root) / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    return root


def _junk_cifar(root: Path) -> Path:
    (write_cifar10_python(root / "c") / "test_batch").write_bytes(b"junk")
    return root


@pytest.mark.parametrize(
    "build, message",
    [
        (_missing, "does not exist; check --data"),
        (_a_file, "is a file"),
        (_empty, "holds no data set designer reads"),
        (_no_val, "has train/ but no val/"),
        (_two_sets, "holds several data sets (cifar, mnist)"),
        (_other_val_classes, "different class folders (class2, other)"),
        (_empty_class, "has no images"),
        (_truncated_idx, "IDX files look damaged"),
        (_junk_cifar, "CIFAR files look damaged"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_unreadable_data_directory_is_one_line_error(tmp_path, build, message):
    with pytest.raises(DesignerError) as caught:
        load_data(build(tmp_path))
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("workers", [0, 1])
def test_undecodable_image_is_skipped_and_named(tmp_path, workers):
    root = write_image_folder(tmp_path)
    broken = root / "val" / "class1" / "broken.png"
    broken.write_bytes(b"not a png")
    batches = Batches(load_data(root).val, CPU, 4, train=False, crop=CentreCrop(1.0), resolution=16, workers=workers)
    labels = torch.cat([labels for _, labels in batches.epoch(0)])
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # every readable image, in order; the broken one left out
    ((path, reason),) = batches.unreadable
    assert path == str(broken) and reason.startswith("UnidentifiedImageError")


def test_training_batches_shard_the_epoch_over_processes(tmp_path):
    split = load_data(write_idx(tmp_path)).train
    shards = [Dist(rank, 2, rank, torch.device("cpu")) for rank in (0, 1)]
    epochs = {}
    for epoch in (0, 1):
        seen = [
            torch.cat([labels for _, labels in Batches(split, d, 5, train=True, seed=3).epoch(epoch)]) for d in shards
        ]
        assert [len(s) for s in seen] == [20, 20]
        epochs[epoch] = [
            torch.cat([images for images, _ in Batches(split, d, 5, train=True, seed=3).epoch(epoch)]) for d in shards
        ]
    assert not torch.equal(epochs[0][0], epochs[1][0])  # a new order every epoch
    full = torch.cat(epochs[0]).flatten(1)
    assert len({tuple(row.tolist()) for row in full}) == 40  # together the two processes see every image once
    single = Batches(split, CPU, 5, train=True, seed=3)
    again = Batches(split, CPU, 5, train=True, seed=3)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(single.epoch(4), again.epoch(4)))
