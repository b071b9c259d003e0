"""The job runner: results arrive on the UI thread, superseded and cancelled jobs are dropped."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from types import FunctionType, ModuleType

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from rmt_gui.errors import FileError
from rmt_gui.jobs.process_worker import JobSpec, ProcessWorker
from rmt_gui.ui import workers
from rmt_gui.ui.workers import ProcessRunner, Runner, describe_failure


def counting(n: int, delay: float = 0.0, started: threading.Event | None = None):
    """A work function yielding ``0..n-1``, checking for cancellation between items."""

    def work(token):
        if started is not None:
            started.set()
        for i in range(n):
            token.check()
            time.sleep(delay)
            yield i

    return work


def test_items_arrive_in_order_on_the_ui_thread(qtbot) -> None:
    runner = Runner()
    items, threads, done = [], set(), []
    runner.start(
        "count", counting(5),
        on_item=lambda i: (items.append(i), threads.add(threading.current_thread())),
        on_done=lambda: done.append(True),
    )  # fmt: skip
    qtbot.waitUntil(lambda: bool(done), timeout=10_000)
    assert items == [0, 1, 2, 3, 4]
    assert threads == {threading.main_thread()}
    assert not runner.running("count")


def test_superseded_job_results_are_dropped(qtbot) -> None:
    runner = Runner()
    first, second, cancelled = [], [], []
    started = threading.Event()
    old = runner.start(
        "kind", counting(1000, 0.002, started), on_item=first.append,
        on_cancel=lambda: cancelled.append(True),
    )  # fmt: skip
    assert started.wait(10)
    runner.start("kind", counting(3), on_item=second.append)
    assert old.token.cancelled and cancelled == [True]
    qtbot.waitUntil(lambda: len(second) == 3, timeout=10_000)
    assert old.finished.wait(10)
    count = len(first)
    qtbot.wait(50)
    assert len(first) == count < 1000
    assert runner.wait(10)


def test_errors_become_one_line_messages(qtbot) -> None:
    runner = Runner()
    errors: list[str] = []

    def failing(token):
        yield 1
        raise FileError("model.pt", "truncated")

    def crashing(token):
        raise ZeroDivisionError("boom")
        yield

    runner.start("a", failing, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert errors == ["model.pt: truncated"]
    runner.start("b", crashing, on_error=errors.append)
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=10_000)
    assert errors[1] == "internal error: ZeroDivisionError: boom"


def test_describe_os_errors() -> None:
    error = PermissionError(13, "Permission denied", "/x/y.pt")
    assert describe_failure(error) == "/x/y.pt: Permission denied"


def referents(item: object) -> list[object]:
    """What ``item`` refers to; of a function only its closure and defaults (not its module)."""
    if isinstance(item, FunctionType):
        return [*(item.__closure__ or ()), *(item.__defaults__ or ())]
    return gc.get_referents(item)


def reachable(root: object, limit: int = 10_000) -> list[object]:
    """Every object reachable from ``root`` through references (breadth first, bounded)."""
    seen, queue, found = {id(root)}, [root], []
    while queue and len(found) < limit:
        item = queue.pop(0)
        found.append(item)
        for ref in referents(item):
            if id(ref) not in seen and not isinstance(ref, type | ModuleType):
                seen.add(id(ref))
                queue.append(ref)
    return found


def test_the_worker_holds_no_ui_object(qtbot) -> None:
    """A worker dropping the last reference to a widget would destroy it off the UI thread."""
    runner = Runner()
    receiver = QLabel()
    release = threading.Event()

    def work(token):
        release.wait(10)
        yield 1

    job = runner.start("k", work, on_item=receiver.setText, on_done=receiver.clear)
    held = reachable(job.worker)
    assert not any(isinstance(item, QObject) for item in held)
    assert job.on_item is not None and not any(item is job for item in held)
    release.set()
    assert runner.wait(10)


JOBS = "tests.helpers.worker_jobs"


@pytest.fixture
def process_runner(qtbot) -> Iterator[ProcessRunner]:
    """A runner over a numpy-only worker process (no torch import: it starts fast)."""
    runner = ProcessRunner(ProcessWorker(threads=1, memory_limit=1 << 30, grace_s=0.5))
    yield runner
    assert runner.close(30)


@pytest.mark.slow
def test_one_poll_delivers_for_a_bounded_time(qtbot, process_runner, monkeypatch) -> None:
    """A backlog of slow-to-draw events is spread over ticks, never one long stall: with each
    event taking 3 ms (of a fake clock) to draw, a tick delivers at most 3 of them."""
    clock = [0.0]
    monkeypatch.setattr(workers, "perf_counter", lambda: clock[0])
    seen: list[int] = []

    def draw(item: dict) -> None:
        clock[0] += 0.003
        seen.append(item["index"])

    process_runner.start(JobSpec(JOBS, "counting", (300, 0.0)), on_item=draw)
    process_runner._timer.stop()
    time.sleep(3.0)
    per_tick = []
    while process_runner.running():
        before = len(seen)
        process_runner._poll()
        per_tick.append(len(seen) - before)
    assert seen == list(range(300))
    assert max(per_tick) <= 3 and len(per_tick) >= 100


@pytest.mark.slow
def test_a_new_process_job_supersedes_the_running_one(qtbot, process_runner) -> None:
    first: list[int] = []
    second: list[int] = []
    ends: list[str] = []
    process_runner.start(
        JobSpec(JOBS, "counting", (10_000, 0.01)), on_item=first.append,
        on_done=lambda: ends.append("first done"),
        on_cancel=lambda: ends.append("first cancelled"),
    )  # fmt: skip
    qtbot.waitUntil(lambda: len(first) >= 2, timeout=30_000)
    process_runner.start(
        JobSpec(JOBS, "counting", (3, 0.0)), on_item=lambda item: second.append(item["index"]),
        on_done=lambda: ends.append("second done"),
    )  # fmt: skip
    assert ends == ["first cancelled"]
    shown = len(first)
    qtbot.waitUntil(lambda: ends[-1] == "second done", timeout=30_000)
    assert second == [0, 1, 2] and len(first) == shown
    assert not process_runner.running()
