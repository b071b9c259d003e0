"""The job runner: results arrive on the UI thread, superseded and cancelled jobs are dropped."""

from __future__ import annotations

import threading
import time

from rmt_gui.errors import FileError
from rmt_gui.ui.workers import Runner, describe_failure


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
