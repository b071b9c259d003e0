"""The one place that starts threads: Qt-free generators run in a thread pool.

A job is ``work(token) -> iterator``; every item it yields reaches the UI thread through a
queued signal of a bridge object that lives in the UI thread (never a lambda on a worker-side
object, which would run in the worker). Starting a job of a kind cancels the previous job of
that kind through its :class:`CancelToken` (a ``threading.Event``, so it works while the worker
is busy) and bumps the kind's generation; anything a superseded job still delivers is dropped.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

from rmt_gui.errors import CancelledError, RmtGuiError
from rmt_gui.jobs.control import CancelToken

Work = Callable[[CancelToken], Iterator[Any]]
WORKER_NICENESS = 10
_local = threading.local()


def lower_thread_priority() -> None:
    """Make the calling pool thread yield the CPU to the UI thread (Linux: per-thread nice).

    On a machine with few cores the UI thread otherwise competes on equal terms with workers
    (and with the BLAS threads they start, which inherit this niceness) and stutters.
    """
    if getattr(_local, "lowered", False) or sys.platform != "linux":
        return
    _local.lowered = True
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)
    except OSError:
        return


@dataclass(eq=False)
class Job:
    """One run of a generator: its kind, generation, cancel token and callbacks."""

    kind: str
    generation: int
    work: Work
    on_item: Callable[[Any], None] | None = None
    on_done: Callable[[], None] | None = None
    on_error: Callable[[str], None] | None = None
    on_cancel: Callable[[], None] | None = None
    token: CancelToken = field(default_factory=CancelToken)
    finished: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Ask the worker to stop at its next yield; later items are dropped."""
        self.token.cancel()


def describe_failure(exc: BaseException) -> str:
    """One line for the user: the core's message, an OS error's file and reason, or the type."""
    if isinstance(exc, RmtGuiError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return f"internal error: {type(exc).__name__}: {exc}"


class _Bridge(QObject):
    """Carries a worker's results to the UI thread (it lives there, so slots run there)."""

    yielded = Signal(object, object)
    ended = Signal(object, str, str)


class _Task(QRunnable):
    """Runs one job's generator to its end in a pool thread, catching everything."""

    def __init__(self, job: Job, bridge: _Bridge) -> None:
        super().__init__()
        self._job = job
        self._bridge = bridge

    def _emit(self, signal: Any, *args: Any) -> None:
        """Emit unless the bridge is gone (the window closed while this job ran)."""
        try:
            signal.emit(*args)
        except RuntimeError:
            self._job.cancel()

    def run(self) -> None:
        job, outcome, message = self._job, "done", ""
        lower_thread_priority()
        try:
            for item in job.work(job.token):
                job.token.check()
                self._emit(self._bridge.yielded, job, item)
        except CancelledError:
            outcome = "cancelled"
        except Exception as exc:
            outcome, message = "failed", describe_failure(exc)
            if not isinstance(exc, (RmtGuiError, OSError)):
                traceback.print_exc(file=sys.stderr)
        self._emit(self._bridge.ended, job, outcome, message)
        job.finished.set()


class Runner(QObject):
    """Starts jobs in the global thread pool and delivers their current results in order."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = _Bridge(self)
        self._bridge.yielded.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._bridge.ended.connect(self._end, Qt.ConnectionType.QueuedConnection)
        self._generations: dict[str, int] = {}
        self._active: dict[str, Job] = {}
        self._all: set[Job] = set()
        self._pool = QThreadPool.globalInstance()

    def start(
        self,
        kind: str,
        work: Work,
        on_item: Callable[[Any], None] | None = None,
        on_done: Callable[[], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> Job:
        """Run ``work`` in a worker, superseding (cancelling) the running job of ``kind``."""
        self.cancel(kind)
        generation = self._generations.get(kind, 0) + 1
        self._generations[kind] = generation
        job = Job(kind, generation, work, on_item, on_done, on_error, on_cancel)
        self._active[kind] = job
        self._all.add(job)
        self._pool.start(_Task(job, self._bridge))
        return job

    def is_current(self, job: Job) -> bool:
        """Whether ``job`` is the latest of its kind and was not cancelled."""
        return self._generations.get(job.kind) == job.generation and not job.token.cancelled

    def running(self, kind: str) -> bool:
        """Whether a job of ``kind`` is running and current."""
        job = self._active.get(kind)
        return job is not None and not job.finished.is_set() and self.is_current(job)

    def cancel(self, kind: str) -> None:
        """Cancel the running job of ``kind`` (its late results are dropped)."""
        job = self._active.pop(kind, None)
        if job is not None:
            job.cancel()
            if job.on_cancel is not None:
                job.on_cancel()

    def cancel_all(self) -> None:
        """Cancel every job this runner started."""
        for kind in list(self._active):
            self.cancel(kind)

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Block until every job has left its worker (after :meth:`cancel_all` on close)."""
        return all(job.finished.wait(timeout_s) for job in list(self._all))

    def _deliver(self, job: Job, item: Any) -> None:
        if job.on_item is not None and self.is_current(job):
            job.on_item(item)

    def _end(self, job: Job, outcome: str, message: str) -> None:
        self._all.discard(job)
        if not self.is_current(job):
            return
        self._active.pop(job.kind, None)
        callback = {"done": job.on_done, "failed": job.on_error, "cancelled": job.on_cancel}
        handler = callback[outcome]
        if handler is None:
            return
        if outcome == "failed":
            handler(message)
        else:
            handler()
