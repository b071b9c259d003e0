"""The worker process: events stream back, cancel/pause cross over, deaths become one error."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from rmt_gui.errors import RmtGuiError
from rmt_gui.jobs.pipe_messages import send
from rmt_gui.jobs.process_worker import (
    MEMORY_VARIABLE,
    THREAD_VARIABLES,
    WORKER_NICENESS,
    EventReader,
    JobEnded,
    JobSpec,
    ProcessWorker,
    default_memory_limit,
    describe_failure,
    exit_message,
    parse_memory_limit,
)

JOBS = "tests.helpers.worker_jobs"
LIMIT = 1 << 30  # the numpy-only children need far less
WAIT_S = 30.0


@pytest.fixture(scope="module")
def worker() -> Iterator[ProcessWorker]:
    """One worker for the module: its child is reused, or respawned after a death."""
    worker = ProcessWorker(threads=1, memory_limit=LIMIT, grace_s=0.3)
    yield worker
    assert worker.close(WAIT_S)


def collect(worker: ProcessWorker, spec: JobSpec, cancel_after: int | None = None) -> list:
    """Run ``spec`` to its end; every item, the JobEnded last (cancel after that many items)."""
    worker.start(spec)
    items: list = []
    deadline = time.monotonic() + WAIT_S
    while worker.running:
        assert time.monotonic() < deadline, "the job did not end"
        items += worker.poll()
        if cancel_after is not None and len(items) >= cancel_after:
            worker.cancel()
        time.sleep(0.01)
    return items


def test_items_stream_in_order_from_one_reused_child(worker) -> None:
    first = collect(worker, JobSpec(JOBS, "counting", (5, 0.0)))
    second = collect(worker, JobSpec(JOBS, "counting", (2, 0.0)))
    assert first[-1] == JobEnded("done") and second[-1] == JobEnded("done")
    assert [item["index"] for item in first[:-1]] == list(range(5))
    np.testing.assert_array_equal(first[3]["values"], [3.0, 4.0, 5.0])
    assert not first[3]["values"].flags.writeable
    pids = {item["pid"] for item in first[:-1] + second[:-1]}
    assert pids == {worker.pid} and worker.pid != os.getpid()


def test_the_child_sets_its_threads_priority_and_imports_only_what_the_job_needs(worker) -> None:
    (seen, ended) = collect(worker, JobSpec(JOBS, "environment", THREAD_VARIABLES))
    assert ended == JobEnded("done")
    niceness = WORKER_NICENESS if sys.platform == "linux" else os.getpriority(os.PRIO_PROCESS, 0)
    assert seen == dict.fromkeys(THREAD_VARIABLES, "1") | {"torch": False, "niceness": niceness}


@pytest.mark.skipif(sys.platform != "linux", reason="niceness per thread is Linux's")
def test_a_new_child_is_niced_from_its_start_not_only_once_it_serves() -> None:
    """The parent nices the child as it spawns it: read at once, before the child could have
    imported its way to ``serve`` (it takes well over 50 ms), its niceness is already set."""
    fresh = ProcessWorker(threads=1, memory_limit=LIMIT)
    try:
        fresh.start(JobSpec(JOBS, "counting", (1, 0.0)))
        assert os.getpriority(os.PRIO_PROCESS, fresh.pid) == WORKER_NICENESS
    finally:
        assert fresh.close(WAIT_S)


def test_a_job_error_is_one_line_and_the_child_goes_on(worker) -> None:
    items = collect(worker, JobSpec(JOBS, "failing", ("model.pt: broken header",)))
    assert items == [1, JobEnded("failed", "model.pt: broken header")]
    pid = worker.pid
    assert collect(worker, JobSpec(JOBS, "counting", (1, 0.0)))[-1] == JobEnded("done")
    assert worker.pid == pid


@pytest.mark.parametrize(
    ("job", "args", "message"),
    [
        ("crashing", (signal.SIGSEGV,), "the worker crashed (signal 11)"),
        ("crashing", (signal.SIGABRT,), "the worker crashed (signal 6)"),
        ("hungry", (4 * LIMIT,), "the worker ran out of memory (cap 1.0 GB)"),
    ],
)
def test_a_dying_child_ends_its_job_with_one_error(worker, job, args, message) -> None:
    assert collect(worker, JobSpec(JOBS, job, args)) == [1, JobEnded("failed", message)]
    again = collect(worker, JobSpec(JOBS, "counting", (1, 0.0)))
    assert again[-1] == JobEnded("done") and again[0]["pid"] == worker.pid


def test_a_child_killed_from_outside_is_reported(worker) -> None:
    worker.start(JobSpec(JOBS, "counting", (10_000, 0.01)))
    items: list = []
    while not items:
        items += worker.poll()
    os.kill(worker.pid, signal.SIGKILL)
    deadline = time.monotonic() + WAIT_S
    while worker.running and time.monotonic() < deadline:
        items += worker.poll()
    assert items[-1] == JobEnded("failed", exit_message(-signal.SIGKILL))
    assert "killed (signal 9)" in items[-1].message


def test_a_job_that_ignores_cancel_is_ended_by_force(worker) -> None:
    started = time.monotonic()
    items = collect(worker, JobSpec(JOBS, "stubborn", ()), cancel_after=1)
    assert items == [1, JobEnded("failed", "the worker did not stop when asked and was killed")]
    assert time.monotonic() - started < 5


def test_pause_holds_the_job_and_cancel_stops_it(worker) -> None:
    worker.start(JobSpec(JOBS, "counting", (10_000, 0.005)))
    items: list = []
    while len(items) < 3:
        items += worker.poll()
    worker.pause_gate.pause()
    time.sleep(0.3)
    items += worker.poll()
    held = len(items)
    time.sleep(0.3)
    assert worker.poll() == [] and worker.pause_gate.paused
    worker.pause_gate.resume()
    while len(items) < held + 3:
        items += worker.poll()
    worker.cancel()
    assert worker.wait(WAIT_S) and not worker.running
    assert [item["index"] for item in items] == list(range(len(items)))


def test_thread_mode_runs_the_same_jobs_here() -> None:
    worker = ProcessWorker(in_process=False)
    items = collect(worker, JobSpec(JOBS, "counting", (3, 0.0)))
    assert [item["pid"] for item in items[:-1]] == [os.getpid()] * 3
    assert items[-1] == JobEnded("done") and worker.pid is None
    assert collect(worker, JobSpec(JOBS, "failing", ("no",)))[-1] == JobEnded("failed", "no")
    assert worker.close(1)


def test_a_worker_refuses_a_second_job_at_once() -> None:
    worker = ProcessWorker(in_process=False)
    worker.start(JobSpec(JOBS, "counting", (10_000, 0.01)))
    with pytest.raises(RuntimeError, match="still running"):
        worker.start(JobSpec(JOBS, "counting", (1, 0.0)))
    assert worker.close(5)


def test_failures_read_as_one_line() -> None:
    assert describe_failure(RuntimeError("DefaultCPUAllocator: can't allocate memory")) == (
        "the worker ran out of memory"
    )
    assert describe_failure(MemoryError()) == "the worker ran out of memory"
    noted = MemoryError()
    noted.add_note("reading layer w")
    assert describe_failure(noted, 6 << 30) == (
        "the worker ran out of memory (cap 6.0 GB) reading layer w"
    )
    assert describe_failure(RmtGuiError("x.pt: bad")) == "x.pt: bad"
    assert describe_failure(ValueError("boom")) == "internal error: ValueError: boom"
    assert exit_message(-11) == "the worker crashed (signal 11)"
    assert exit_message(3) == "the worker exited unexpectedly (code 3)"


def test_a_child_killed_while_paused_leaves_the_controls_working(worker) -> None:
    worker.start(JobSpec(JOBS, "counting", (10_000, 0.005)))
    items: list = []
    while not items:
        items += worker.poll()
    worker.pause_gate.pause()
    time.sleep(0.1)
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(WAIT_S)
    worker.pause_gate.resume()
    again = collect(worker, JobSpec(JOBS, "counting", (2, 0.0)), cancel_after=1)
    assert again[-1] in (JobEnded("done"), JobEnded("cancelled"))
    assert again[0]["pid"] == worker.pid


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("0.25", 1 << 30), ("6G", 6 << 30), ("512MB", 512 << 20), ("123456", 123456), ("none", None)],
)
def test_memory_cap_setting(setting: str, expected: int | None) -> None:
    assert parse_memory_limit(setting, ram=4 << 30) == expected


@pytest.mark.parametrize("setting", ["lots", "-1G", "0"])
def test_bad_memory_cap_setting_is_refused(setting: str) -> None:
    with pytest.raises(ValueError):
        parse_memory_limit(setting, ram=4 << 30)


def test_memory_cap_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_VARIABLE, "3G")
    assert default_memory_limit() == 3 << 30
    assert ProcessWorker(memory_limit="auto").memory_limit == 3 << 30


def test_a_released_worker_starts_a_fresh_child(worker) -> None:
    first = collect(worker, JobSpec(JOBS, "counting", (1, 0.0)))
    worker.release()
    assert worker.pid is None
    second = collect(worker, JobSpec(JOBS, "counting", (1, 0.0)))
    assert first[0]["pid"] != second[0]["pid"] and second[-1] == JobEnded("done")


def unpickled_in_thread() -> str:
    """What a message made by :class:`ThreadProbe` becomes: the unpickling thread's name."""
    return threading.current_thread().name


class ThreadProbe:
    """A message that records which thread unpickled it."""

    def __reduce__(self) -> tuple:
        return unpickled_in_thread, ()


def drain(reader: EventReader) -> list:
    """Every message the reader delivers, up to its end (waits for it)."""
    items = []
    while (item := reader.inbox.get(timeout=30)) is not EventReader.CLOSED:
        items.append(item)
    return items


def test_the_reader_unpickles_off_the_polling_thread_in_order_then_closes_the_pipe() -> None:
    read_end, write_end = multiprocessing.Pipe(duplex=False)
    reader = EventReader(read_end)
    big = np.arange(4_000_000, dtype=np.float32)  # 16 MB: a model's layer
    for message in ((1, "first"), (1, big), (1, ThreadProbe())):
        send(write_end, message)
    write_end.close()
    items = drain(reader)
    assert items[0] == (1, "first")
    np.testing.assert_array_equal(items[1][1], big)
    assert items[2] == (1, "rmt-gui-reader")
    assert read_end.closed
