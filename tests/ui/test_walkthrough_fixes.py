"""Defects found driving the real app under a virtual display, each pinned by a test."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rmt_gui.model.memory import resident_memory
from rmt_gui.state import events
from rmt_gui.ui import theme
from rmt_gui.ui.compare_view import CompareView
from rmt_gui.ui.document_view import DocumentView
from rmt_gui.ui.workers import WorkerPool
from tests.helpers.run_folders import write_run

SHORT_S = 0.2


@pytest.fixture
def short_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Information lines expire after ``SHORT_S`` instead of 8 s."""
    monkeypatch.setattr(events, "INFO_SECONDS", SHORT_S)


@pytest.fixture
def slow_opening(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening never finishes: the tab only says it is opening (as a big file does for long)."""
    monkeypatch.setattr(
        DocumentView, "start", lambda view: view.opening.emit(f"Opening {view.path.name}…")
    )


def test_a_long_opening_keeps_its_progress_when_a_line_expires(
    qtbot, window, tmp_path: Path, short_notes, slow_opening
) -> None:
    window.open_paths([tmp_path / "big.safetensors"])
    assert window.progress.isVisible()
    window.workspace.post_status("MNIST data folder: /data")
    qtbot.waitUntil(lambda: window.workspace.status.text == "", timeout=5_000)
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    assert window.message.text() == "Opening big.safetensors…"


def test_coming_back_to_an_opening_tab_shows_its_progress(
    qtbot, window, tmp_path: Path, slow_opening
) -> None:
    window.open_paths([tmp_path / "big.safetensors", tmp_path / "other.safetensors"])
    first, second = window.views()
    window.tabs.setCurrentWidget(first)
    assert window.progress.isVisible() and window.message.text() == "Opening big.safetensors…"
    second.fail("truncated file")
    window.tabs.setCurrentWidget(second)
    assert not window.progress.isVisible()


def test_a_failed_file_says_why_in_its_own_tab_only(
    qtbot, window, tmp_path: Path, slow_opening
) -> None:
    window.open_paths([tmp_path / f"{name}.pt" for name in ("truncated", "empty", "good")])
    truncated, empty, good = window.views()
    truncated.fail("truncated or corrupt zip archive")
    empty.fail("is empty")
    assert window.tabs.currentWidget() is good
    assert window.progress.isVisible() and window.message.text() == "Opening good.pt…"
    window.tabs.setCurrentWidget(truncated)
    assert window.message.text() == "truncated.pt: truncated or corrupt zip archive"
    assert not window.progress.isVisible()
    window.tabs.setCurrentWidget(empty)
    assert window.message.text() == "empty.pt: is empty"
    assert [window.tabs.tabText(i)[0] for i in range(3)] == ["⚠", "⚠", "g"]


def test_history_buttons_wait_for_a_document(qtbot, window, tmp_path: Path, slow_opening) -> None:
    window.open_paths([tmp_path / "big.safetensors"])
    history = window.views()[0].history
    buttons = (history.undo_button, history.redo_button, history.evaluate_button)
    assert not any(button.isEnabled() for button in buttons)


class _IdleWorker:
    """Stands for a worker whose child is this test process (its memory is known)."""

    def __init__(self) -> None:
        self.pid, self.released = os.getpid(), False

    def release(self) -> None:
        self.released = True


def test_a_worker_left_holding_a_big_files_memory_is_let_go() -> None:
    held = resident_memory(os.getpid())
    assert held is not None and held > 10 << 20
    for limit, kept in ((held * 4, True), (held // 4, False)):
        pool, worker = WorkerPool(idle=2, memory=limit), _IdleWorker()
        pool.give(worker)
        assert worker.released is not kept
        assert (pool.take() is worker) is kept


def test_unknown_memory_keeps_the_worker() -> None:
    assert resident_memory(None) is None and resident_memory(2**30) is None
    pool, worker = WorkerPool(idle=1, memory=1), _IdleWorker()
    worker.pid = None
    pool.give(worker)
    assert not worker.released and pool.take() is worker


def test_replay_curves_span_the_run_and_accuracy_reads_in_percent(
    qtbot, window, tmp_path: Path
) -> None:
    replay = window.replay(write_run(tmp_path / "run"))
    low, high = replay.curve_plot.getPlotItem().viewRange()[0]
    assert low <= 0 and high >= 60
    assert replay.accuracy_plot.getPlotItem().viewRange()[0] == [low, high]
    (accuracy,) = replay.accuracy_plot.getPlotItem().listDataItems()
    np.testing.assert_allclose(accuracy.getData()[1], [80.0, 90.0])
    assert "(%)" in replay.accuracy_plot.getAxis("left").labelText
    assert replay.spectrum_plot.getAxis("bottom").logMode
    replay.close()


def test_a_failed_comparison_shows_its_reason_alone(qtbot, tmp_path: Path) -> None:
    compare = CompareView(tmp_path / "a.pt", tmp_path / "b.pt")
    qtbot.addWidget(compare)
    compare.show()
    plot = compare.plot.getPlotItem()
    assert not theme.values_shown(plot.getAxis("bottom"))  # an empty plot has no tick labels
    assert plot.getAxis("bottom").logMode
    compare._failed("b.pt: not the same architecture as a.pt: lacks fc1.weight")
    assert "not the same architecture" in compare.header.text()
    assert not compare.body.isVisible()
