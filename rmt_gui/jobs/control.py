"""Thread-safe controls for long work: cancel, pause, and a rate gate (no Qt).

A worker polls these at step boundaries; the UI thread sets them. They are plain
``threading.Event`` wrappers (or of a flag shared with a worker process),
so a request never depends on a Qt event loop in the worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from rmt_gui.errors import CancelledError


class Flag(Protocol):
    """What the controls need of an event: ``threading.Event`` and shared-memory flags."""

    def set(self) -> None: ...

    def clear(self) -> None: ...

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class CancelToken:
    """Set from any thread to ask the worker to stop at its next step boundary."""

    def __init__(self, event: Flag | None = None) -> None:
        self._event = event if event is not None else threading.Event()

    def cancel(self) -> None:
        """Ask the worker to stop."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`CancelledError` if cancellation was requested."""
        if self._event.is_set():
            raise CancelledError("cancelled")

    def progress_callback(self) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callable for the model layer that only checks for cancel."""
        return lambda done, total: self.check()


class PauseGate:
    """Pause and resume a worker; ``wait()`` blocks while paused, waking for cancel too."""

    def __init__(self, cancel: CancelToken | None = None, running: Flag | None = None) -> None:
        """A new gate is open; one over a shared ``running`` flag is as that flag says."""
        if running is None:
            running = threading.Event()
            running.set()
        self._running = running
        self._cancel = cancel

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait(self, poll_s: float = 0.05) -> None:
        """Block while paused; raise :class:`CancelledError` if cancelled meanwhile."""
        while not self._running.wait(poll_s):
            if self._cancel is not None:
                self._cancel.check()
        if self._cancel is not None:
            self._cancel.check()


class RateGate:
    """Let an event through at most ``per_second`` times a second (monotonic clock)."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._last = -float("inf")

    def ready(self, now: float | None = None) -> bool:
        """Whether enough time has passed since the last accepted event; accept it if so."""
        now = time.monotonic() if now is None else now
        if now - self._last >= self._interval:
            self._last = now
            return True
        return False
