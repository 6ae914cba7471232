"""Prepare the next batches in a background thread while the training step runs.

GPU JPEG decoding blocks its calling thread (without the GIL) until the batch is decoded; in a
thread of its own it overlaps the main thread's launching of the training step, and chained
stages (decode in one thread, resize in the next) overlap each other. On CUDA a stage's thread
works on the ``stream`` it is given. A batch crossing to another stream is handed over with an
event that the consumer's stream waits for, and the tensors of a tuple batch are marked as used on
that stream, so the caching allocator keeps their memory until the consumer's work on them is done.
Stages given the same stream need neither.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_DONE = object()


def prefetched(
    source: Iterator[In], convert: Callable[[In], Out], stream: torch.cuda.Stream | None = None, depth: int = 2
) -> Generator[Out, None, None]:
    """``convert(item)`` for each item of ``source``, computed up to ``depth`` items ahead in a thread.

    ``stream``: the CUDA stream the thread works on (None on the CPU). An error in the thread is
    raised here, at the item where it happened; leaving the loop early stops the thread.
    """
    ready: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()
    thread = threading.Thread(
        target=_produce, args=(source, convert, stream, ready, stop), name="prefetch", daemon=True
    )
    thread.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            batch, event = item
            if stream is not None and (current := torch.cuda.current_stream(stream.device)) != stream:
                current.wait_event(event)
                for tensor in batch if isinstance(batch, tuple) else ():
                    if isinstance(tensor, torch.Tensor):
                        tensor.record_stream(current)
            yield batch
    finally:
        stop.set()
        while thread.is_alive():  # unblock a thread waiting to hand over an item
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        thread.join()


def _produce(
    source: Iterator[In],
    convert: Callable[[In], Out],
    stream: torch.cuda.Stream | None,
    ready: queue.Queue[Any],
    stop: threading.Event,
) -> None:
    try:
        if stream is not None:
            torch.cuda.set_device(stream.device)  # the current device is per thread
        with torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext():
            for item in source:
                if stop.is_set():
                    return
                batch = convert(item)
                event = None
                if stream is not None:
                    event = torch.cuda.Event()
                    event.record(stream)
                ready.put((batch, event))
        ready.put(_DONE)
    except BaseException as error:  # handed to the consumer, which raises it
        ready.put(_Failed(error))
