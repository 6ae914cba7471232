"""The Lagrangian relaxation refined beside the solver's search, on a core of its own.

The solver's search for better designs and the relaxation's refinement of the bound
(:meth:`~designer.core.relaxation.Relaxation.refine`) both want the whole time limit. Where
processes can be forked (Linux), the refinement runs in a forked child, which inherits the
priced grid without copying it and needs no share of the interpreter lock (on a thread, beside
the search's Python loops, the ResNet-50 budget's root bound took far longer); elsewhere
it runs on a thread. Either way it sends each step's bound and the designs its DPs chose, and is
sent the incumbent's value, which closes the pieces that cannot beat it.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.dummy
import queue
import sys
import time
from typing import Any

import numpy as np

from designer.core.relaxation import Box, Multipliers, Relaxation

FINAL_WAIT = 5.0
"""Seconds past the deadline (or after an interrupt) to wait for the refinement's last step."""


def _context() -> Any:
    """A forking multiprocessing context on Linux, else the thread-backed ``multiprocessing.dummy``."""
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.dummy


def _refine(
    relaxation: Relaxation,
    box: Box,
    start: Multipliers,
    target: Any,
    deadline: float,
    stop: Any,
    steps: Any,
    threads: int,
) -> None:
    """The worker: every step of the refinement as ``(bound, designs)`` on ``steps``, an exception
    in place of a step when one is raised, then ``None``."""
    try:
        relaxation.threads = threads
        refined = relaxation.refine(box, start, target.value, deadline, stop)
        relaxed = next(refined)
        while True:
            steps.put((relaxed.bound, relaxed.points))
            relaxed = refined.send(target.value)
    except StopIteration:
        pass
    except BaseException as error:  # the solver raises it again
        steps.put(error)
    finally:
        steps.put(None)


class BackgroundRelaxation:
    """The refinement of one box from ``start`` until ``deadline`` (``time.perf_counter()``),
    started at once; :meth:`poll` collects what it found, :meth:`finish` ends it."""

    def __init__(self, relaxation: Relaxation, box: Box, start: Multipliers, target: float, deadline: float) -> None:
        context = _context()
        forked = context is not multiprocessing.dummy
        self.deadline = deadline
        self.cap = np.inf
        """The least bound so far (``-inf`` once every piece is closed)."""
        self.target = context.Value("d", target, lock=False)
        self.stop = context.Event()
        self.steps = context.Queue()
        self.done = False
        self.rooted = np.inf
        """When its first step, the root's bound, was collected (``time.perf_counter()``)."""
        self.error: BaseException | None = None
        """What the refinement raised."""
        # a forked child has a core of its own; beside the search, one thread builds its DPs' tables
        threads = 1 if forked else relaxation.threads
        args = (relaxation, box, start, self.target, deadline, self.stop, self.steps, threads)
        self.worker = context.Process(target=_refine, args=args, name="relaxation")
        self.worker.daemon = True  # it ends by the deadline; nothing waits for it at exit
        self.worker.start()

    def share(self, incumbent: float) -> None:
        """Tell the refinement the incumbent's value (it closes what cannot beat it from its next step)."""
        self.target.value = incumbent

    def poll(self, timeout: float | None = None) -> list[dict[str, int]]:
        """The designs its DPs chose since the last call (their bounds lower :attr:`cap`); with a
        ``timeout``, waits that long for the first step. Raises what the refinement raised."""
        chosen = self._collect(timeout)
        if self.error is not None:
            self.finish(wait=False)
            raise self.error
        return chosen

    def finish(self, wait: bool = True) -> None:
        """End the refinement: with ``wait``, after its step under way (it keeps to the deadline;
        what it raised is raised), else before its next DP."""
        if not wait:
            self.stop.set()
        end = (max(self.deadline, time.perf_counter()) if wait else time.perf_counter()) + FINAL_WAIT
        while not self.done and time.perf_counter() < end:
            self._collect(timeout=min(max(end - time.perf_counter(), 0.0), 60.0))  # a finite wait at a time
        self.stop.set()
        self.worker.join(timeout=FINAL_WAIT)
        if self.worker.is_alive() and hasattr(self.worker, "terminate"):
            self.worker.terminate()
        if wait and self.error is not None:
            raise self.error

    def _collect(self, timeout: float | None) -> list[dict[str, int]]:
        """The messages sent so far (with a ``timeout``, waiting that long for the first)."""
        chosen: list[dict[str, int]] = []
        while not self.done:
            try:
                message = self.steps.get(timeout=timeout) if timeout is not None else self.steps.get_nowait()
            except queue.Empty:
                break
            timeout = None
            if message is None or isinstance(message, BaseException):
                self.done = True
                self.error = message
            else:
                bound, points = message
                self.rooted = min(self.rooted, time.perf_counter())
                self.cap = min(self.cap, bound)
                chosen += points
        return chosen
