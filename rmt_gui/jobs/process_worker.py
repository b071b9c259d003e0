"""Heavy jobs in a worker process: a job generator runs there and its events stream back (no Qt).

A :class:`ProcessWorker` owns one ``spawn``ed child that runs jobs one at a time and is reused
between them (each child pays for its own torch import). A job is named, not pickled as code: a
:class:`JobSpec` says which module-level generator function to call with which plain arguments,
``function(cancel, pause, *args)``; whatever it yields (immutable events, numpy arrays, bytes,
never a tensor or module) is pickled back over a pipe by a feeder thread, so a slow reader never
slows the job, and received and unpickled on this side by a reader thread (:class:`EventReader`),
so that a large message never holds up the thread that polls (large arrays cross in pieces:
:mod:`rmt_gui.jobs.pipe_messages`). Cancel and pause are shared-memory
flags behind the engine's own :class:`CancelToken` and :class:`PauseGate`; a job that does not
stop within ``grace_s`` of a cancel is terminated, then killed. The child caps its address
space (``RLIMIT_AS``, by default :data:`MEMORY_FRACTION` of the RAM; ``$RMT_GUI_WORKER_MEMORY``
sets it), lowers its priority below the UI's and sets its thread counts before anything imports
torch. A child that dies, is killed or runs out of memory ends its job with one
:class:`JobEnded` saying so, never a hang: the parent holds no write end of the event pipe, so
a death reads as EOF.

With ``in_process=False`` the same jobs run in a thread of this process (for tests that patch
the engine, and for debugging); everything else is the same.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import queue
import resource
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from typing import Any, Literal

from rmt_gui.errors import CancelledError, RmtGuiError
from rmt_gui.jobs.control import CancelToken, Flag, PauseGate
from rmt_gui.jobs.pipe_messages import receive, send

GRACE_S = 10.0
FLAG_POLL_S = 0.01
MEMORY_FRACTION = 0.5
MEMORY_VARIABLE = "RMT_GUI_WORKER_MEMORY"
MEMORY_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
JOIN_S = 5.0
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
WORKER_NICENESS = 10
OUT_OF_MEMORY = ("can't allocate memory", "not enough memory", "out of memory")
Outcome = Literal["done", "failed", "cancelled"]
_local = threading.local()


class SharedFlag:
    """An Event-like flag in shared memory, without a lock: a killed child cannot leave it stuck
    (setting a ``multiprocessing`` Event waits for every sleeper, even one that was killed)."""

    def __init__(self, context: Any) -> None:
        self._value = context.RawValue("b", 0)

    def set(self) -> None:
        """Raise the flag."""
        self._value.value = 1

    def clear(self) -> None:
        """Lower the flag."""
        self._value.value = 0

    def is_set(self) -> bool:
        """Whether the flag is raised."""
        return bool(self._value.value)

    def wait(self, timeout: float | None = None) -> bool:
        """Poll every ``FLAG_POLL_S`` until set (True) or ``timeout`` passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._value.value:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(FLAG_POLL_S)
        return True


@dataclass(frozen=True)
class JobSpec:
    """A job by name: ``module.function(cancel, pause, *args)`` yields its events.

    Only the names and the (plain, picklable) arguments cross to the child, which imports the
    module itself, after its thread counts and memory cap are set.
    """

    module: str
    function: str
    args: tuple[Any, ...] = ()

    def events(self, cancel: CancelToken, pause: PauseGate) -> Iterator[Any]:
        """Import the function and start the job's generator."""
        function = getattr(importlib.import_module(self.module), self.function)
        return iter(function(cancel, pause, *self.args))


@dataclass(frozen=True)
class JobEnded:
    """The last message of a job: how it ended and, when it failed, one line saying why."""

    outcome: Outcome
    message: str = ""


def describe_failure(exc: BaseException, cap: int | None = None) -> str:
    """One line for the user: the core's message, an OS error's file and reason, running out of
    memory (with the worker's memory ``cap`` in bytes, and what it was doing where the job
    noted it: ``the worker ran out of memory (cap 6.1 GB) reading layer w``), or the type."""
    if isinstance(exc, RmtGuiError):
        return str(exc)
    if isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and any(text in str(exc) for text in OUT_OF_MEMORY)
    ):
        limit = f" (cap {cap / MEMORY_UNITS['G']:.1f} GB)" if cap is not None else ""
        doing = "".join(f" {note}" for note in getattr(exc, "__notes__", ()))
        return f"the worker ran out of memory{limit}{doing}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return f"internal error: {type(exc).__name__}: {exc}"


def exit_message(exitcode: int | None) -> str:
    """What a child's death means for the user, from its exit code (negative: a signal)."""
    if exitcode is not None and exitcode < 0:
        number = -exitcode
        if number == signal.SIGKILL:
            return "the worker was killed (signal 9), most likely for running out of memory"
        return f"the worker crashed (signal {number})"
    return f"the worker exited unexpectedly (code {exitcode})"


def lower_thread_priority() -> None:
    """Make the calling pool thread yield the CPU to the UI thread (Linux: per-thread nice).

    On a machine with few cores the UI thread otherwise competes on equal terms with workers
    (and with the BLAS threads they start, which inherit this niceness) and stutters.
    """
    if getattr(_local, "lowered", False):
        return
    _local.lowered = True
    lower_priority(threading.get_native_id())


def lower_priority(tid: int) -> None:
    """Give thread ``tid`` :data:`WORKER_NICENESS` (Linux, where niceness is per thread and a
    new thread inherits its creator's; a process's main thread has its pid as id)."""
    if sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, tid, WORKER_NICENESS)
    except OSError:
        return


def idle_thread_priority() -> None:
    """Let the calling helper thread run only on a core no other thread wants (Linux
    ``SCHED_IDLE``; elsewhere the niceness of :func:`lower_thread_priority`).

    Stronger than a high nice: the kernel counts a core that runs only such threads as idle when
    it places a waking thread, so the UI thread of the app lands there at once instead of
    queueing behind a training thread (measured: the Train tab's longest stalls were ~30 ms).
    """
    if sys.platform != "linux" or not hasattr(os, "SCHED_IDLE"):
        lower_thread_priority()
        return
    try:
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
    except OSError:
        lower_thread_priority()


def physical_memory() -> int | None:
    """The machine's RAM in bytes (``None`` where unknown)."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def parse_memory_limit(text: str, ram: int | None) -> int | None:
    """A memory cap from its setting: ``none``, a share of the RAM (``0.5``) or a size in
    bytes with an optional K/M/G/T suffix (``6G``); raises ``ValueError`` for anything else."""
    value = text.strip().upper().removesuffix("B")
    if value in ("", "NONE", "OFF"):
        return None
    unit = MEMORY_UNITS.get(value[-1], 1)
    number = float(value[:-1] if value[-1] in MEMORY_UNITS else value)
    if not number > 0:
        raise ValueError(f"a memory cap must be positive, not {text!r}")
    if number <= 1 and unit == 1:
        return None if ram is None else int(ram * number)
    return int(number * unit)


def default_memory_limit() -> int | None:
    """The workers' address-space cap in bytes: ``$RMT_GUI_WORKER_MEMORY`` (see
    :func:`parse_memory_limit`) if set and valid, else :data:`MEMORY_FRACTION` of the RAM."""
    ram = physical_memory()
    setting = os.environ.get(MEMORY_VARIABLE)
    if setting is not None:
        try:
            return parse_memory_limit(setting, ram)
        except ValueError:
            print(f"rmt-gui: ignoring {MEMORY_VARIABLE}={setting!r}", file=sys.stderr)
    return None if ram is None else int(ram * MEMORY_FRACTION)


class _Feeder:
    """Sends messages from a queue on a thread of its own; a broken pipe cancels the job."""

    def __init__(self, connection: Connection, cancel: CancelToken) -> None:
        self._connection, self._cancel = connection, cancel
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="rmt-gui-feeder", daemon=True)
        self._thread.start()

    def put(self, message: Any) -> None:
        """Queue ``message`` for sending (never blocks)."""
        self._queue.put(message)

    def _run(self) -> None:
        """Send queued messages until the pipe breaks."""
        while True:
            message = self._queue.get()
            try:
                send(self._connection, message)
            except (OSError, ValueError):  # the parent went away: stop the job
                self._cancel.cancel()
                return


class EventReader:
    """Receives and unpickles a child's messages on a thread of its own, into :attr:`inbox`.

    A message can be a whole model (64 MB for one 4096x4096 layer): reading it on the polling
    thread stalled the app's UI for 300 ms. The reader owns the pipe's read end and closes it
    at the child's EOF, after putting :data:`CLOSED`; closing it from another thread while a
    read is blocked could let the read take a later pipe that reuses the descriptor.
    """

    CLOSED = object()

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="rmt-gui-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                self.inbox.put(receive(self._connection))
        except (EOFError, OSError):
            pass
        finally:
            self.inbox.put(self.CLOSED)
            self._connection.close()


def run_job(
    number: int,
    spec: JobSpec,
    put: Any,
    cancel: CancelToken,
    pause: PauseGate,
    cap: int | None = None,
) -> None:
    """Run one job to its end, putting ``(number, item)`` for each item, then its JobEnded
    (``cap``: the process's memory cap in bytes, named when the job runs out of memory)."""
    outcome: Outcome = "done"
    message = ""
    try:
        for item in spec.events(cancel, pause):
            put((number, item))
            del item
    except CancelledError:
        outcome = "cancelled"
    except Exception as exc:
        outcome, message = "failed", describe_failure(exc, cap)
        if not isinstance(exc, (RmtGuiError, OSError, MemoryError)):
            traceback.print_exc(file=sys.stderr)
    put((number, JobEnded(outcome, message)))


def _thread_job(*args: Any) -> None:
    """:func:`run_job` on a thread of the UI's process: niced, so that the UI thread comes first
    (as a worker process is, from its start)."""
    lower_thread_priority()
    run_job(*args)


def _set_up_child(threads: int, memory_limit: int | None) -> int | None:
    """Thread counts (before torch is imported), the niceness and the address-space cap of the
    child; returns the cap set (bytes), ``None`` when there is none.

    Niced, every thread of the child (they inherit it) yields a contended core to the app's UI
    thread: at equal priority a waking trainer thread preempted the UI mid-frame (the Train tab's
    longest stalls held 10-20 ms of waiting in 20 ms of drawing, measured)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    lower_thread_priority()
    if memory_limit is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            memory_limit = min(memory_limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, hard))
    return memory_limit


def serve(
    requests: Connection,
    events: Connection,
    cancel_event: Flag,
    running_event: Flag,
    threads: int,
    memory_limit: int | None,
) -> None:
    """The child's main: run each ``(number, JobSpec)`` request until ``None`` or the parent
    goes away."""
    cap = _set_up_child(threads, memory_limit)
    cancel = CancelToken(cancel_event)
    pause = PauseGate(cancel, running_event)
    feeder = _Feeder(events, cancel)
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        number, spec = request
        run_job(number, spec, feeder.put, cancel, pause, cap)


class ProcessWorker:
    """Runs jobs one at a time in a reusable child process (or thread); poll it for events.

    ``memory_limit`` caps the child's address space in bytes (``"auto"``: a share of the RAM,
    ``None``: no cap). Parent side, one thread: :meth:`start` a job, :meth:`poll` for its items
    (the last one a :class:`JobEnded`), :meth:`cancel` it, pause it through :attr:`pause_gate`,
    :meth:`close` it.
    """

    def __init__(
        self,
        threads: int = 1,
        memory_limit: int | Literal["auto"] | None = "auto",
        grace_s: float = GRACE_S,
        in_process: bool = True,
    ) -> None:
        self.threads = threads
        self.memory_limit = default_memory_limit() if memory_limit == "auto" else memory_limit
        self.grace_s = grace_s
        self.in_process = in_process
        self._context = multiprocessing.get_context("spawn")
        make = partial(SharedFlag, self._context) if in_process else threading.Event
        self._cancel_event, self._running_event = make(), make()
        self._running_event.set()
        self.cancel_token = CancelToken(self._cancel_event)
        self.pause_gate = PauseGate(self.cancel_token, self._running_event)
        self._child: Any = None
        self._requests: Connection | None = None
        self._events: EventReader | None = None
        self._local: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._number = 0
        self._job: int | None = None
        self._cancelled_at: float | None = None
        self._ending: str = ""

    @property
    def running(self) -> bool:
        """Whether a job was started and has not ended yet."""
        return self._job is not None

    @property
    def pid(self) -> int | None:
        """The child's process id (``None`` before the first job or in thread mode)."""
        return self._child.pid if self.in_process and self._child is not None else None

    def start(self, spec: JobSpec) -> int:
        """Run ``spec`` (starting the child first if there is none); returns the job number."""
        if self._job is not None:
            raise RuntimeError("a job is still running in this worker")
        self._cancel_event.clear()
        self._running_event.set()
        self._number += 1
        self._job, self._cancelled_at, self._ending = self._number, None, ""
        if self.in_process:
            self._ensure_child().send((self._number, spec))
        else:
            self._child = threading.Thread(
                target=_thread_job,
                args=(self._number, spec, self._local.put, self.cancel_token, self.pause_gate),
                name="rmt-gui-job",
                daemon=True,
            )
            self._child.start()
        return self._number

    def _ensure_child(self) -> Connection:
        """Spawn the child unless one is alive (after a crash, a fresh one); its request pipe."""
        if self._child is not None and self._child.is_alive() and self._requests is not None:
            return self._requests
        self._drop_child()
        requests_out, requests_in = self._context.Pipe(duplex=False)
        events_out, events_in = self._context.Pipe(duplex=False)
        child = self._context.Process(
            target=serve,
            args=(requests_out, events_in, self._cancel_event, self._running_event,
                  self.threads, self.memory_limit),
            name="rmt-gui-worker",
            daemon=True,
        )  # fmt: skip
        child.start()
        if child.pid is not None:  # niced from its start: its imports yield to the UI too
            lower_priority(child.pid)
        requests_out.close()
        events_in.close()
        self._child, self._requests, self._events = child, requests_in, EventReader(events_out)
        return requests_in

    def cancel(self) -> None:
        """Ask the job to stop; it is ended by force if it has not within ``grace_s``."""
        if self._job is not None and self._cancelled_at is None:
            self._cancelled_at = time.monotonic()
        self.cancel_token.cancel()

    def poll(self, limit: int = 1000) -> list[Any]:
        """The current job's items that arrived (never blocks); the last is its JobEnded."""
        items: list[Any] = []
        while len(items) < limit and self._job is not None:
            message = self._receive()
            if message is None:
                break
            number, item = message
            if number != self._job:
                continue
            items.append(item)
            if isinstance(item, JobEnded):
                self._job = None
        if self._job is not None and len(items) < limit:
            items.extend(self._check_child())
        return items

    def _receive(self) -> tuple[int, Any] | None:
        """One message if one is waiting; ``None`` if none is (or the pipe is closed)."""
        if not self.in_process:
            try:
                return self._local.get_nowait()
            except queue.Empty:
                return None
        if self._events is None:
            return None
        try:
            message = self._events.inbox.get_nowait()
        except queue.Empty:
            return None
        if message is EventReader.CLOSED:
            self._close_events()
            return None
        return message

    def _close_events(self) -> None:
        """Stop reading the child's messages (its reader closes the pipe at the child's EOF)."""
        self._events = None

    def _check_child(self) -> list[JobEnded]:
        """End a job whose child died, and force one that ignored its cancel for too long."""
        child = self._child
        alive = child is not None and child.is_alive()
        if alive and self._cancelled_at is not None and self.in_process:
            self._force(time.monotonic() - self._cancelled_at)
            return []
        if alive:
            return []
        unread = self._events is not None if self.in_process else not self._local.empty()
        if unread:
            return []  # read what the dead child sent (up to its EOF) first
        self._job = None
        code = child.exitcode if self.in_process else None
        return [JobEnded("failed", self._ending or exit_message(code))]

    def _force(self, waited_s: float) -> None:
        """Terminate, then kill, a child whose job has not stopped after its cancel."""
        child = self._child
        if waited_s >= 2 * self.grace_s:
            self._ending = "the worker did not stop when asked and was killed"
            child.kill()
        elif waited_s >= self.grace_s:
            self._ending = "the worker did not stop when asked and was ended"
            child.terminate()

    def wait(self, timeout_s: float) -> bool:
        """Block until the job ends (its items are dropped), at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self._job is not None:
            if not self.poll():
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)
        return True

    def close(self, timeout_s: float = 30.0) -> bool:
        """Cancel the job, wait for it (ending it by force after ``timeout_s``), stop the child.

        Returns whether the job ended by itself in time.
        """
        self.cancel()
        ended = self.wait(timeout_s)
        if not ended and self.in_process and self._child is not None:
            self._child.kill()
            self._job = None
        self._drop_child()
        return ended

    def release(self) -> None:
        """Let the idle child go without waiting for it to exit (it exits on its own): frees
        its memory without blocking the caller; a later job spawns a fresh child."""
        if self._job is not None:
            raise RuntimeError("a job is still running in this worker")
        self._child = None
        self._let_go()

    def _let_go(self) -> None:
        """Ask the child to exit (a child already gone is fine) and close both pipes."""
        if self._requests is not None:
            with contextlib.suppress(OSError):
                self._requests.send(None)
            self._requests.close()
            self._requests = None
        self._close_events()

    def _drop_child(self) -> None:
        """Ask an idle child to exit, then make sure it has (and free its pipes)."""
        child, self._child = self._child, None
        self._let_go()
        if child is None:
            return
        child.join(JOIN_S)
        if self.in_process and child.is_alive():
            child.kill()
            child.join(JOIN_S)
