"""Numpy-only job generators for the worker-process tests (the child never imports torch)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import numpy as np

from rmt_gui.errors import RmtGuiError
from rmt_gui.jobs.control import CancelToken, PauseGate


def counting(cancel: CancelToken, pause: PauseGate, count: int, delay_s: float) -> Iterator[dict]:
    """Yield ``count`` items (a read-only array each), honouring pause and cancel between them."""
    for index in range(count):
        pause.wait()
        cancel.check()
        values = np.arange(index, index + 3, dtype=float)
        values.flags.writeable = False
        yield {"index": index, "values": values, "pid": os.getpid()}
        time.sleep(delay_s)


def environment(cancel: CancelToken, pause: PauseGate, *names: str) -> Iterator[dict]:
    """Yield the child's view of some environment variables, whether torch is loaded and the
    job thread's niceness."""
    import sys

    yield {name: os.environ.get(name) for name in names} | {
        "torch": "torch" in sys.modules,
        "niceness": os.getpriority(os.PRIO_PROCESS, 0),
    }


def failing(cancel: CancelToken, pause: PauseGate, message: str) -> Iterator[int]:
    """Yield once, then fail with a user-facing error."""
    yield 1
    raise RmtGuiError(message)


def crashing(cancel: CancelToken, pause: PauseGate, number: int) -> Iterator[int]:
    """Yield once, then die of signal ``number``."""
    yield 1
    time.sleep(0.2)
    os.kill(os.getpid(), number)
    yield 2


def hungry(cancel: CancelToken, pause: PauseGate, size: int) -> Iterator[int]:
    """Yield once, then allocate and touch ``size`` bytes."""
    yield 1
    block = np.ones(size, dtype=np.uint8)
    yield int(block[-1])


def stubborn(cancel: CancelToken, pause: PauseGate) -> Iterator[int]:
    """Yield, then never look at the cancel token again (SIGTERM ignored too)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    yield 1
    while True:
        time.sleep(0.05)
