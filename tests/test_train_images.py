"""Image files to batches: JPEG bytes for the GPU or Pillow pixels, odd and broken files, the decoder choice.

The GPU path runs here on the CPU with a Pillow stand-in for nvJPEG (``pillow_decode``); with
torchvision importable, its decoder and resize are checked too.
"""

from __future__ import annotations

import io
import itertools
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from support.specs import tiny_spec
from test_train_data import CPU

from designer.core.errors import DesignerError
from train import jpeg
from train.crops import CentreCrop, RandomCrop
from train.datasets import FileSplit, load_data
from train.images import Decoded, Encoded, ImageFiles, Unreadable, collate, crop_resize
from train.jpeg import DeviceImages, pick_decoder, resize_boxes
from train.loader import Batches
from train.loop import train
from train.prefetch import prefetched
from train.recipe import TrainConfig

KINDS = ("baseline.jpg", "truncated.jpg", "progressive.jpg", "grey.jpg", "cmyk.jpg", "alpha.png", "junk.jpg")


def photo(width: int = 120, height: int = 90, seed: int = 0) -> Image.Image:
    """Smooth random colours with some grain: compresses like a photograph."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (height // 10 + 2, width // 10 + 2, 3), dtype=np.uint8))
    grain = rng.normal(0, 6, (height, width, 1))
    pixels = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC)) + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_kinds(folder: Path, seed: int = 0) -> list[Path]:
    """One file of each kind in ``KINDS``, in that order."""
    folder.mkdir(parents=True, exist_ok=True)
    image = photo(seed=seed)
    paths = [folder / name for name in KINDS]
    image.save(paths[0], "JPEG", quality=90)
    paths[1].write_bytes(paths[0].read_bytes()[:1500])
    image.save(paths[2], "JPEG", quality=90, progressive=True)
    image.convert("L").save(paths[3], "JPEG")
    image.convert("CMYK").save(paths[4], "JPEG")
    image.convert("RGBA").save(paths[5])
    paths[6].write_bytes(b"not an image")
    return paths


def split_of(paths: list[Path]) -> FileSplit:
    return FileSplit(tuple(map(str, paths)), torch.arange(len(paths)))


def pillow_decode(files: list[torch.Tensor]) -> list[torch.Tensor]:
    """A stand-in for ``torchvision.io.decode_jpeg(files, device=...)``: RGB (3, H, W), RuntimeError if one fails."""
    decoded = []
    for file in files:
        try:
            with Image.open(io.BytesIO(file.numpy().tobytes())) as image:
                decoded.append(torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1))
        except Exception as error:
            raise RuntimeError(f"Error while decoding JPEG images: {error}") from None
    return decoded


def test_workers_leave_baseline_colour_jpegs_to_the_gpu_and_decode_the_rest(tmp_path):
    paths = write_kinds(tmp_path)
    items = [ImageFiles(split_of(paths), CentreCrop(1.0), 32, "RGB", encoded=True)[(0, i)] for i in range(len(paths))]
    assert [type(item) for item in items] == [Encoded, Encoded, Decoded, Decoded, Decoded, Decoded, Unreadable]
    assert items[0] == Encoded(paths[0].read_bytes(), (0, 15, 90, 90), 0, str(paths[0]))
    assert all(item.pixels.shape == (32, 32, 3) for item in items if isinstance(item, Decoded))
    junk = items[-1]
    assert isinstance(junk, Unreadable) and junk.path == str(paths[-1])
    assert junk.reason.startswith("UnidentifiedImageError")

    on_cpu = ImageFiles(split_of(paths), CentreCrop(1.0), 32, "L", encoded=False)
    found = [on_cpu[(0, i)] for i in range(len(paths))]
    assert [type(item) for item in found] == [Decoded, Unreadable, Decoded, Decoded, Decoded, Decoded, Unreadable]
    assert all(item.pixels.shape == (32, 32) for item in found if isinstance(item, Decoded))  # truncated: Pillow fails

    batch = collate(items)
    assert len(batch) == 6 and batch.labels.tolist() == [0, 1, 2, 3, 4, 5]  # the encoded first, then the decoded
    assert [bytes(file.numpy()) for file in batch.files()] == [paths[0].read_bytes(), paths[1].read_bytes()]
    assert batch.pixels.shape == (4, 3, 32, 32) and batch.unreadable == [(junk.path, junk.reason)]


def test_gpu_path_decodes_the_batch_and_rescues_or_skips_what_the_decoder_refuses(tmp_path):
    paths = write_kinds(tmp_path)
    split = split_of(paths)
    files = ImageFiles(split, CentreCrop(0.875), 24, "RGB", encoded=True)
    raw = collate([files[(0, i)] for i in range(len(paths))])
    unreadable = list(raw.unreadable)
    images, labels = DeviceImages(pillow_decode, torch.device("cpu"), 24, "RGB", unreadable)(raw)
    # the truncated file fails the batched call, then nvJPEG and Pillow one by one: skipped
    assert images.shape == (5, 3, 24, 24) and images.dtype == torch.uint8 and labels.tolist() == [0, 2, 3, 4, 5]
    assert [path for path, _ in unreadable] == [str(paths[6]), str(paths[1])]
    on_cpu = ImageFiles(split, CentreCrop(0.875), 24, "RGB", encoded=False)[(0, 0)]
    assert isinstance(on_cpu, Decoded)  # the same crop by Pillow (decoded at half size, then resized): alike
    difference = (images[0].float() - torch.tensor(on_cpu.pixels).permute(2, 0, 1).float()).abs()
    assert difference.mean() < 3 and difference.max() < 40

    refusing = DeviceImages(_refuse, torch.device("cpu"), 24, "RGB", [])
    rescued, rescued_labels = refusing(collate([files[(0, 0)], files[(0, 2)]]))
    assert rescued_labels.tolist() == [0, 2] and torch.allclose(rescued[0].float(), images[0].float(), atol=40)


def _refuse(files: list[torch.Tensor]) -> list[torch.Tensor]:
    raise RuntimeError("Error while decoding JPEG images: Failed to decode batch: 6")


def test_draft_decoding_of_large_jpegs_matches_full_decoding(tmp_path):
    path = tmp_path / "large.jpg"
    photo(1600, 1200).save(path, "JPEG", quality=95)
    box = (100, 200, 1000, 900)  # top, left, height, width: decodable at 1/4 scale for a 224 output
    with Image.open(path) as image:
        fast = crop_resize(image, box, 224, "RGB").astype(float)
        assert image.size == (400, 300)  # decoded at 1/4 scale: the box is 225 px wide there
    with Image.open(path) as image:
        image.load()  # no draft once loaded
        full = np.asarray(
            image.convert("RGB").resize((224, 224), Image.Resampling.BILINEAR, box=(200, 100, 1100, 1100))
        )
    assert np.abs(fast - full).mean() < 3  # grain filtered by the DCT instead of bilinear: alike


def test_training_crops_see_the_whole_image(tmp_path):
    """A 2:1 image whose left quarter is red: a centre square first (the old loader) never shows it."""
    pixels = np.zeros((32, 64, 3), np.uint8)
    pixels[..., 2] = 255
    pixels[:, :16] = (255, 0, 0)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    files = ImageFiles(split_of([tmp_path / "wide.png"]), RandomCrop((0.08, 1.0), seed=0), 16, "RGB", encoded=False)
    crops = [files[(epoch, 0)] for epoch in range(100)]
    red = [(crop.pixels[..., 0] > 128).mean() for crop in crops if isinstance(crop, Decoded)]
    assert len(red) == 100
    assert max(red) > 0.8 and sum(r > 0 for r in red) > 20 and min(red) == 0


def test_decoder_choice(monkeypatch):
    gpu = torch.device("cuda", 0)
    assert pick_decoder("auto", CPU.device, 3)[0] is None and pick_decoder("cpu", gpu, 3)[0] is None
    with pytest.raises(DesignerError, match="--decode gpu needs a CUDA device"):
        pick_decoder("gpu", CPU.device, 3)
    monkeypatch.setattr(jpeg, "nvjpeg", lambda device, channels: pillow_decode)
    assert pick_decoder("auto", gpu, 3) == (
        pillow_decode,
        "nvJPEG on cuda:0 (the data-loading processes only read files)",
    )
    assert pick_decoder("gpu", gpu, 1)[0] is pillow_decode
    monkeypatch.setattr(jpeg, "nvjpeg", lambda device, channels: "torchvision is not importable (ImportError: x)")
    decoder, line = pick_decoder("auto", gpu, 3)
    assert decoder is None and line.endswith("(torchvision is not importable (ImportError: x))")
    with pytest.raises(DesignerError, match="--decode gpu: torchvision is not importable") as caught:
        pick_decoder("gpu", gpu, 3)
    assert "\n" not in str(caught.value)


def test_prefetched_keeps_order_raises_errors_and_stops_when_left():
    assert [int(x) for (x,) in prefetched(iter(range(7)), lambda i: (torch.tensor(i),))] == list(range(7))

    def fail_at_three(i: int) -> tuple[torch.Tensor]:
        if i == 3:
            raise ValueError("bad batch")
        return (torch.tensor(i),)

    seen = []
    with pytest.raises(ValueError, match="bad batch"):
        for (x,) in prefetched(iter(range(7)), fail_at_three):
            seen.append(int(x))
    assert seen == [0, 1, 2]
    endless = prefetched(itertools.count(), lambda i: (torch.tensor(i),))
    assert [int(next(endless)[0]) for _ in range(3)] == [0, 1, 2]
    endless.close()
    assert not any(thread.name == "prefetch" for thread in threading.enumerate())


@pytest.mark.parametrize("workers", [0, 2])
def test_gpu_and_cpu_paths_give_the_same_crops(tmp_path, monkeypatch, workers):
    paths = [path for seed in range(6) for path in write_kinds(tmp_path / str(seed), seed)[:1]]
    split = split_of(paths)
    crop = RandomCrop((0.2, 1.0), 5)
    monkeypatch.setattr("train.loader.pick_decoder", lambda choice, device, channels: (pillow_decode, "stand-in"))
    on_gpu = Batches(split, CPU, 3, train=True, seed=5, workers=workers, crop=crop, resolution=20, decode="gpu")
    monkeypatch.undo()
    on_cpu = Batches(split, CPU, 3, train=True, seed=5, workers=workers, crop=crop, resolution=20, decode="cpu")
    assert (on_gpu.decoding, on_cpu.decoding) == ("stand-in", "Pillow in the data-loading processes")
    for epoch in (0, 1):
        gpu_batches, cpu_batches = list(on_gpu.epoch(epoch)), list(on_cpu.epoch(epoch))
        assert len(gpu_batches) == len(cpu_batches) == 2
        for (a, labels_a), (b, labels_b) in zip(gpu_batches, cpu_batches):
            assert torch.equal(labels_a, labels_b) and a.shape == b.shape == (3, 3, 20, 20)
            assert (a.float() - b.float()).abs().mean() < 3  # same boxes; two resamplers
    cut_short = on_gpu.epoch(2)
    next(cut_short)
    cut_short.close()
    assert not any(thread.name == "prefetch" for thread in threading.enumerate())


def test_resize_matches_torchvision_resized_crop():
    functional = pytest.importorskip("torchvision.transforms.v2.functional", exc_type=ImportError)
    images = [
        torch.tensor(np.asarray(photo(w, h, seed=w))).permute(2, 0, 1).contiguous() for w, h in ((120, 90), (60, 80))
    ]
    boxes = [(5, 10, 70, 90), (30, 10, 12, 40)]  # a downscale and an upscale
    ours = resize_boxes(images, boxes, 32)
    for image, box, mine in zip(images, boxes, ours):
        theirs = functional.resized_crop(image, *box, size=[32, 32], antialias=True)
        assert (mine.int() - theirs.int()).abs().max() <= 1


def test_torchvision_decoder_reads_what_the_workers_send(tmp_path):
    io_module = pytest.importorskip("torchvision.io", exc_type=ImportError)
    paths = write_kinds(tmp_path)
    files = ImageFiles(split_of(paths), CentreCrop(1.0), 24, "RGB", encoded=True)
    raw = collate([files[(0, 0)], files[(0, 2)]])

    def decode(batch: list[torch.Tensor]) -> list[torch.Tensor]:
        return io_module.decode_jpeg(batch, mode=io_module.ImageReadMode.RGB, device="cpu")

    images, labels = DeviceImages(decode, torch.device("cpu"), 24, "RGB", [])(raw)
    reference, _ = DeviceImages(pillow_decode, torch.device("cpu"), 24, "RGB", [])(raw)
    assert labels.tolist() == [0, 2] and (images.float() - reference.float()).abs().mean() < 2


def test_training_from_jpegs_skips_broken_files_and_reports_them(tmp_path, capsys):
    for split, count in (("train", 6), ("val", 2)):
        for label in range(3):
            for index in range(count):
                folder = tmp_path / "data" / split / f"c{label}"
                folder.mkdir(parents=True, exist_ok=True)
                photo(40, 30, seed=label * 100 + index).save(folder / f"{index}.jpg", "JPEG")
    (tmp_path / "data" / "train" / "c1" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a JPEG")
    photo(40, 30).convert("CMYK").save(tmp_path / "data" / "train" / "c2" / "cmyk.jpg", "JPEG")
    tiny_spec().save(tmp_path / "tiny.json")
    config = TrainConfig(
        arch=str(tmp_path / "tiny.json"), data=str(tmp_path / "data"), out=str(tmp_path / "run"), epochs=1,
        batch_size=4, warmup_epochs=0, workers=0, progress=False, device="cpu", policy="none",
    )  # fmt: skip
    result = train(config)
    out = capsys.readouterr().out
    assert "images decoded by Pillow in the data-loading processes, 0 worker process(es)" in out
    assert "skipped 1 unreadable image file(s) in epoch 1, e.g. " in out and "broken.jpg (" in out
    assert (
        result.history[0]["train_images"] == 19 and len(load_data(tmp_path / "data").train) == 20
    )  # 5 batches of 4, less one
