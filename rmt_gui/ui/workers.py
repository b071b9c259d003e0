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

Heavy work (opening and analysing files, evaluation, rank sweeps, export, training) runs in a
:class:`ProcessRunner`: a child process of ``rmt_gui.jobs.process_worker`` with its own
interpreter and GIL, whose events a timer moves to the UI thread every ``POLL_MS`` without
ever blocking on them, and for at most ``POLL_BUDGET_S`` per tick. A :class:`Runner` starts
process jobs too (:meth:`Runner.start_process`): each job borrows a worker from the app's
:data:`POOL` of warm children (torch already imported there) and gives it back when it ends,
so a crash ends only that job, and several files open at once, one child each. A child that
unpickled a trusted file is not reused.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from time import perf_counter
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
from rmt_gui.model.memory import resident_memory

Work = Callable[[CancelToken], Iterator[Any]]
Callbacks = tuple[Callable[..., None] | None, ...]
POLL_MS = 25
BACKLOG_MS = 1
POLL_BUDGET_S = 0.008
"""Longest a poll tick delivers events for; the rest wait for the next tick (``BACKLOG_MS``)."""
CLOSE_S = 2.0
"""How long closing a tab waits for its worker processes' jobs to stop before killing them."""
IDLE_WORKERS = 2
"""Idle worker processes kept warm for the next job (each holds an interpreter with torch)."""
IDLE_MEMORY_BYTES = 1 << 30
"""A worker left holding more resident memory than this (it read a big file: a 1 GB model
leaves about 3 GB, never given back to the system) is let go instead of kept idle."""
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
        self.processes: dict[str, ProcessRunner] = {}
        self._fresh: set[str] = set()
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

    def start_process(
        self,
        kind: str,
        spec: JobSpec,
        on_item: Callable[[Any], None] | None = None,
        on_done: Callable[[], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
        reuse: bool = True,
    ) -> ProcessRunner:
        """Run ``spec`` in a worker process borrowed from :data:`POOL`, superseding the running
        job of ``kind``; without ``reuse`` the child is let go, not pooled, once it is done."""
        self.cancel(kind)
        runner = self.processes.get(kind)
        if runner is None:
            runner = ProcessRunner(POOL.take(), self)
            runner.ended.connect(self._process_ended)
            self.processes[kind] = runner
        (self._fresh.discard if reuse else self._fresh.add)(kind)
        runner.start(spec, on_item, on_done, on_error, on_cancel)
        return runner

    def _process_ended(self, runner: ProcessRunner) -> None:
        """A process job ended (and no other waits for its worker): give the worker back."""
        kind = next((k for k, r in self.processes.items() if r is runner), None)
        if kind is None or runner.running():
            return
        del self.processes[kind]
        if kind in self._fresh:
            runner.worker.release()
        else:
            POOL.give(runner.worker)
        runner.deleteLater()

    def is_current(self, job: Job) -> bool:
        """Whether ``job`` is the latest of its kind and was not cancelled."""
        return self._generations.get(job.kind) == job.generation and not job.token.cancelled

    def running(self, kind: str) -> bool:
        """Whether a job of ``kind`` (in a thread or a process) is running and current."""
        process = self.processes.get(kind)
        if process is not None and process.delivering():
            return True
        job = self._active.get(kind)
        return job is not None and not job.finished.is_set() and self.is_current(job)

    def cancel(self, kind: str) -> None:
        """Cancel the running job of ``kind`` (its late results are dropped)."""
        process = self.processes.get(kind)
        if process is not None:
            process.abandon()
        job = self._active.pop(kind, None)
        if job is not None:
            job.cancel()
            if job.on_cancel is not None:
                job.on_cancel()

    def cancel_all(self) -> None:
        """Cancel every job this runner started."""
        for kind in {*self._active, *self.processes}:
            self.cancel(kind)

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Block until every job has left its worker (after :meth:`cancel_all` on close)."""
        processes = all(runner.wait(timeout_s) for runner in self.processes.values())
        return processes and all(job.finished.wait(timeout_s) for job in list(self._all.values()))

    def close(self, timeout_s: float = CLOSE_S) -> None:
        """Cancel every job and stop its worker process (killed after ``timeout_s``)."""
        self.cancel_all()
        for runner in self.processes.values():
            runner.close(timeout_s)
        self.processes.clear()

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


@functools.cache
def preload(module: str) -> threading.Thread:
    """Import ``module`` on a background thread, once: a model arriving from a worker then
    finds torch loaded instead of importing it on the UI thread (seconds without a frame)."""
    thread = threading.Thread(
        target=importlib.import_module, args=(module,), name="rmt-gui-preload", daemon=True
    )
    thread.start()
    return thread


def worker_threads() -> int:
    """Torch threads of a worker process: all cores but one, kept for the UI."""
    return max(1, (os.cpu_count() or 2) - 1)


class WorkerPool:
    """Idle worker processes kept for the next job (at most ``idle``, each holding at most
    ``memory`` bytes; others are let go).

    Spawning a child costs an interpreter and a torch import (seconds on a busy machine), so
    opening file after file reuses warm children; a dead one respawns on its next job. Idle
    children are daemons: they exit with the app (or on their own when its pipe closes).
    """

    def __init__(self, idle: int = IDLE_WORKERS, memory: int = IDLE_MEMORY_BYTES) -> None:
        self.idle, self.memory = idle, memory
        self._workers: list[ProcessWorker] = []

    def take(self) -> ProcessWorker:
        """An idle worker, or a new one (its child spawns with its first job)."""
        return self._workers.pop() if self._workers else ProcessWorker(worker_threads())

    def give(self, worker: ProcessWorker) -> None:
        """Keep an idle ``worker`` for later, or let it go when enough are kept or it holds
        the memory of a big job."""
        held = resident_memory(worker.pid)
        if len(self._workers) < self.idle and (held is None or held <= self.memory):
            self._workers.append(worker)
        else:
            worker.release()


POOL = WorkerPool()
"""The app's idle worker processes, shared by every tab."""


class ProcessRunner(QObject):
    """Runs one job at a time in a :class:`ProcessWorker` and hands its items to callbacks on
    the UI thread (a ``POLL_MS`` timer drains the worker only while a job runs).

    Starting a job while one runs supersedes it: the running job is cancelled and its late
    items dropped, and the new one starts once the worker is free. ``ended`` is emitted after
    each job's end was delivered.
    """

    ended = Signal(object)

    def __init__(self, worker: ProcessWorker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self._callbacks: Callbacks = (None, None, None, None)
        self._pending: tuple[JobSpec, Callbacks] | None = None
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
        """Run ``spec`` in the worker, after the running job (if any) was cancelled."""
        callbacks = (on_item, on_done, on_error, on_cancel)
        if self.worker.running:
            self.abandon()
            self._pending = (spec, callbacks)
            return
        self.worker.start(spec)
        self._callbacks = callbacks
        self._timer.setInterval(POLL_MS)
        self._timer.start()

    def running(self) -> bool:
        """Whether a job runs and its end has not been delivered yet."""
        return self.worker.running or self._pending is not None

    def delivering(self) -> bool:
        """Whether a job runs whose items are still wanted (started, not abandoned)."""
        return self._pending is not None or (self.worker.running and any(self._callbacks))

    def cancel(self) -> None:
        """Ask the job to stop (the worker is ended by force if it does not)."""
        self.worker.cancel()

    def abandon(self) -> None:
        """Cancel the job and drop its late items; its ``on_cancel`` is called now. The worker
        is still polled until the job has ended (or was ended by force)."""
        on_cancel = self._callbacks[3]
        self._callbacks, self._pending = (None, None, None, None), None
        if self.worker.running:
            self.worker.cancel()
            if on_cancel is not None:
                on_cancel()

    def _poll(self) -> None:
        """Deliver what arrived, for at most ``POLL_BUDGET_S`` (then come back soon for the
        rest); on the job's end, stop polling, then call its end callback."""
        deadline = perf_counter() + POLL_BUDGET_S
        while perf_counter() < deadline:
            items = self.worker.poll(limit=1)
            if not items:
                self._timer.setInterval(POLL_MS)
                return
            item = items[0]
            if isinstance(item, JobEnded):
                self._end(item)
                return
            on_item = self._callbacks[0]
            if on_item is not None:
                on_item(item)
        self._timer.setInterval(BACKLOG_MS)

    def _end(self, ended: JobEnded) -> None:
        """Stop polling, start a waiting job, and call the callback for how the job ended."""
        callbacks = self._callbacks[1:]
        self._forget()
        pending, self._pending = self._pending, None
        if pending is not None:
            self.start(pending[0], *pending[1])
        call_end(ended.outcome, ended.message, callbacks)
        self.ended.emit(self)

    def _forget(self) -> None:
        """No more deliveries: the job ended or its results are no longer wanted."""
        self._timer.stop()
        self._callbacks = (None, None, None, None)

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Block until the job has ended (at most ``timeout_s``); its late items, and a job
        waiting to start after it, are dropped."""
        ended = self.worker.wait(timeout_s)
        if ended:
            self._forget()
            self._pending = None
        return ended

    def close(self, timeout_s: float = 30.0) -> bool:
        """Cancel the job, wait for it (at most ``timeout_s``, then it is killed) and stop the
        child; late items are dropped. Returns whether the job ended by itself in time."""
        self._forget()
        self._pending = None
        return self.worker.close(timeout_s)
