"""The one place that starts workers: Qt-free generators in a thread pool, or in a process.

A job is ``work(token) -> iterator``; every item it yields reaches the UI thread through a
queued signal of a bridge object that lives in the UI thread (never a lambda on a worker-side
object, which would run in the worker). Starting a job of a kind cancels the previous job of
that kind through its :class:`CancelToken` (a ``threading.Event``, so it works while the worker
is busy) and bumps the kind's generation; anything a superseded job still delivers is dropped.

A worker holds nothing of the UI: its task sees only the Qt-free generator function, the token
and a job number, while the callbacks (bound to widgets) stay with the :class:`Runner` in the UI
thread. Were the worker to drop the last reference to a widget, the C++ object would be
destroyed off the UI thread, which deadlocks or crashes PySide.

Heavy work (training) runs in a :class:`ProcessRunner`: a child process of
``rmt_gui.jobs.process_worker`` with its own interpreter and GIL, whose events a timer moves to
the UI thread every ``POLL_MS`` without ever blocking on them.
"""

from __future__ import annotations

import itertools
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal

from rmt_gui.errors import CancelledError, RmtGuiError
from rmt_gui.jobs.control import CancelToken, PauseGate
from rmt_gui.jobs.process_worker import (
    JobEnded,
    JobSpec,
    ProcessWorker,
    describe_failure,
    lower_thread_priority,
)

Work = Callable[[CancelToken], Iterator[Any]]
POLL_MS = 25
__all__ = ["ProcessRunner", "Runner", "describe_failure", "lower_thread_priority"]


@dataclass(eq=False)
class WorkerSide:
    """What a worker thread may hold of a job: Qt-free and free of UI callbacks."""

    number: int
    work: Work
    token: CancelToken = field(default_factory=CancelToken)
    finished: threading.Event = field(default_factory=threading.Event)


@dataclass(eq=False)
class Job:
    """One run of a generator (UI side): its kind, generation, worker side and callbacks."""

    kind: str
    generation: int
    worker: WorkerSide
    on_item: Callable[[Any], None] | None = None
    on_done: Callable[[], None] | None = None
    on_error: Callable[[str], None] | None = None
    on_cancel: Callable[[], None] | None = None

    @property
    def token(self) -> CancelToken:
        return self.worker.token

    @property
    def finished(self) -> threading.Event:
        return self.worker.finished

    def cancel(self) -> None:
        """Ask the worker to stop at its next yield; later items are dropped."""
        self.token.cancel()


def call_end(outcome: str, message: str, callbacks: tuple[Callable[..., None] | None, ...]) -> None:
    """Call the one of ``(on_done, on_error, on_cancel)`` for how a job ended (if it is set);
    ``on_error`` gets the one-line ``message``."""
    on_done, on_error, on_cancel = callbacks
    if outcome == "failed":
        if on_error is not None:
            on_error(message)
        return
    handler = on_done if outcome == "done" else on_cancel
    if handler is not None:
        handler()


class _Bridge(QObject):
    """Carries a worker's results to the UI thread (it lives there, so slots run there)."""

    yielded = Signal(int, object)
    ended = Signal(int, str, str)


class _Task(QRunnable):
    """Runs one job's generator to its end in a pool thread, catching everything."""

    def __init__(self, side: WorkerSide, bridge: _Bridge) -> None:
        super().__init__()
        self._side: WorkerSide | None = side
        self._bridge = bridge

    def _emit(self, signal: Any, *args: Any) -> None:
        """Emit unless the bridge is gone (the window closed while this job ran)."""
        try:
            signal.emit(*args)
        except RuntimeError:
            self._side.token.cancel()

    def run(self) -> None:
        side, outcome, message = self._side, "done", ""
        lower_thread_priority()
        try:
            for item in side.work(side.token):
                side.token.check()
                self._emit(self._bridge.yielded, side.number, item)
                del item
        except CancelledError:
            outcome = "cancelled"
        except Exception as exc:
            outcome, message = "failed", describe_failure(exc)
            if not isinstance(exc, (RmtGuiError, OSError)):
                traceback.print_exc(file=sys.stderr)
        self._emit(self._bridge.ended, side.number, outcome, message)
        self._side = None
        side.finished.set()


class Runner(QObject):
    """Starts jobs in a thread pool and delivers their current results in order.

    Jobs run in Qt's global pool, or with ``dedicated`` in a one-thread pool of this runner's own
    (long work such as training then never holds up the explorer's short jobs, nor they it).
    """

    def __init__(self, parent: QObject | None = None, dedicated: bool = False) -> None:
        super().__init__(parent)
        self._bridge = _Bridge(self)
        self._bridge.yielded.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._bridge.ended.connect(self._end, Qt.ConnectionType.QueuedConnection)
        self._generations: dict[str, int] = {}
        self._active: dict[str, Job] = {}
        self._all: dict[int, Job] = {}
        self._numbers = itertools.count()
        if dedicated:
            self._pool = QThreadPool(self)
            self._pool.setMaxThreadCount(1)
        else:
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
        side = WorkerSide(next(self._numbers), work)
        job = Job(kind, generation, side, on_item, on_done, on_error, on_cancel)
        self._active[kind] = job
        self._all[side.number] = job
        self._pool.start(_Task(side, self._bridge))
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
        return all(job.finished.wait(timeout_s) for job in list(self._all.values()))

    def _deliver(self, number: int, item: Any) -> None:
        job = self._all.get(number)
        if job is not None and job.on_item is not None and self.is_current(job):
            job.on_item(item)

    def _end(self, number: int, outcome: str, message: str) -> None:
        job = self._all.pop(number, None)
        if job is None or not self.is_current(job):
            return
        self._active.pop(job.kind, None)
        call_end(outcome, message, (job.on_done, job.on_error, job.on_cancel))


class ProcessRunner(QObject):
    """Runs one job at a time in a :class:`ProcessWorker` and hands its items to callbacks on
    the UI thread (a ``POLL_MS`` timer drains the worker only while a job runs)."""

    def __init__(self, worker: ProcessWorker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self._callbacks: tuple[Callable[..., None] | None, ...] = (None, None, None, None)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def cancel_token(self) -> CancelToken:
        return self.worker.cancel_token

    @property
    def pause_gate(self) -> PauseGate:
        return self.worker.pause_gate

    def start(
        self,
        spec: JobSpec,
        on_item: Callable[[Any], None] | None = None,
        on_done: Callable[[], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        """Run ``spec`` in the worker (the previous job must have ended)."""
        self.worker.start(spec)
        self._callbacks = (on_item, on_done, on_error, on_cancel)
        self._timer.start()

    def running(self) -> bool:
        """Whether a job runs and its end has not been delivered yet."""
        return self.worker.running

    def cancel(self) -> None:
        """Ask the job to stop (the worker is ended by force if it does not)."""
        self.worker.cancel()

    def _poll(self) -> None:
        """Deliver what arrived; on the job's end, stop polling, then call its end callback."""
        on_item = self._callbacks[0]
        for item in self.worker.poll():
            if isinstance(item, JobEnded):
                self._end(item)
                return
            if on_item is not None:
                on_item(item)

    def _end(self, ended: JobEnded) -> None:
        """Stop polling and call the callback for how the job ended."""
        callbacks = self._callbacks[1:]
        self._forget()
        call_end(ended.outcome, ended.message, callbacks)

    def _forget(self) -> None:
        """No more deliveries: the job ended or its results are no longer wanted."""
        self._timer.stop()
        self._callbacks = (None, None, None, None)

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Block until the job has ended (at most ``timeout_s``); its late items are dropped."""
        ended = self.worker.wait(timeout_s)
        if ended:
            self._forget()
        return ended

    def close(self, timeout_s: float = 30.0) -> bool:
        """Cancel the job, wait for it (at most ``timeout_s``, then it is killed) and stop the
        child; late items are dropped. Returns whether the job ended by itself in time."""
        self._forget()
        return self.worker.close(timeout_s)
