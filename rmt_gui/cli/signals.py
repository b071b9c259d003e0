"""How the command line stops: SIGTERM and Ctrl+C unwind like an exception, a closed pipe is quiet.

SIGTERM raises :class:`KeyboardInterrupt`, as Ctrl+C does, so every ``finally`` and cleanup runs
(an export removes its temporary file). torch re-raises an interrupt that hits its writer as a
RuntimeError; :func:`interrupted` sees through that wrapper. The status is 130 for both signals.

A reader that stops early (``rmt-gui analyze --json m.pt | head -1``) closes our stdout; we then
point stdout at ``/dev/null`` so the interpreter's final flush cannot fail, print nothing, and
return 141 (128 + SIGPIPE), the status a shell reports for tools that die of SIGPIPE.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

from rmt_gui.errors import caused_by

INTERRUPTED_STATUS = 130
CLOSED_PIPE_STATUS = 128 + 13
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """Signal handler: unwind the main thread as Ctrl+C does."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Within the block SIGINT and SIGTERM raise :class:`KeyboardInterrupt`; handlers are restored.

    Only the main thread can install handlers; elsewhere the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is an interrupt or was raised because of one (torch's wrapper)."""
    return caused_by(exc, KeyboardInterrupt) is not None


def closed_pipe(exc: BaseException) -> bool:
    """Whether ``exc`` means the reader of our output went away."""
    return caused_by(exc, BrokenPipeError) is not None


def silence_stdout() -> None:
    """Send what is left of stdout to ``/dev/null`` (the reader closed the pipe)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
