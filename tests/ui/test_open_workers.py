"""Files open in worker processes: a bad file or a dead worker fails its own tab only, and
trust questions come one at a time."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QApplication, QMessageBox

from rmt_gui.jobs.analysis_job import NeedsTrust
from rmt_gui.ui.main_window import MainWindow
from tests.helpers.app_window import WAIT_MS, message_box, open_and_wait, wait_ready
from tests.helpers.model_files import PlainNet
from tests.helpers.numpy_files import lying_npz


def trust_boxes() -> list[QMessageBox]:
    """Every trust question on screen."""
    return [
        w for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "trustBox" and w.isVisible()
    ]  # fmt: skip


def view_of(win: MainWindow, path: Path):
    """The tab of ``path``."""
    return next(v for v in win.views() if v.path == path)


@pytest.mark.slow
def test_bad_files_and_a_killed_worker_leave_the_good_tab_working(
    qtbot, window, model_files, tmp_path
) -> None:
    good = open_and_wait(qtbot, window, model_files["small"])
    bomb = lying_npz(tmp_path / "zipbomb.npz", (20000, 25000))
    big = tmp_path / "big.npz"
    np.savez(big, w=np.random.default_rng(0).standard_normal((1500, 1500)).astype(np.float32))
    window.open_paths([bomb, big])
    doomed = view_of(window, big)
    os.kill(doomed.runner.processes["open"].worker.pid, signal.SIGKILL)
    bad = view_of(window, bomb)
    qtbot.waitUntil(lambda: bool(bad.failure and doomed.failure), timeout=WAIT_MS)
    assert "zipbomb.npz" in bad.failure and bad.error.isVisibleTo(bad)
    assert doomed.failure.startswith("big.npz: the worker was killed (signal 9)")
    assert all("\n" not in v.failure for v in (bad, doomed))
    assert message_box("errorBox") is None and window.tabs.count() == 3
    assert good.document.analysis().complete and not good.failure
    window.tabs.setCurrentWidget(good)
    good.prune.method_box.setCurrentIndex(good.prune.method_box.findData("rank"))
    good.prune.rank.setValue(8)
    wait_ready(qtbot, good)
    good.apply_pruning()
    qtbot.waitUntil(lambda: good.document.history.cursor == 1, timeout=WAIT_MS)
    wait_ready(qtbot, good)
    assert good.document.dirty


class MainNet(PlainNet):
    """A module class as a script's ``__main__`` would define it (no import can rebuild it)."""


def save_main_script_module(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pickle a :class:`MainNet` whose class claims to live in ``__main__``."""
    monkeypatch.setattr(MainNet, "__module__", "__main__")
    monkeypatch.setattr(sys.modules["__main__"], "MainNet", MainNet, raising=False)
    torch.save(MainNet(), path)
    monkeypatch.undo()
    return path


@pytest.mark.slow
def test_trust_questions_come_one_at_a_time(qtbot, window, tmp_path, monkeypatch) -> None:
    first, second = tmp_path / "first.pt", tmp_path / "second.pt"
    for path in (first, second):
        torch.save(PlainNet(), path)
    script = save_main_script_module(tmp_path / "script.pt", monkeypatch)
    window.open_paths([first, script, second])
    qtbot.waitUntil(lambda: bool(trust_boxes()), timeout=WAIT_MS)
    unbuildable = view_of(window, script)
    qtbot.waitUntil(lambda: bool(unbuildable.failure), timeout=WAIT_MS)
    assert "__main__" in unbuildable.failure
    qtbot.wait(200)
    (box,) = trust_boxes()
    assert "first.pt" in box.text() and "PlainNet" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: any("second.pt" in b.text() for b in trust_boxes()), timeout=WAIT_MS)
    assert len(trust_boxes()) == 1
    assert "not trusted" in view_of(window, first).failure
    (box,) = trust_boxes()
    next(b for b in box.buttons() if "run its code" in b.text()).click()
    opened = view_of(window, second)
    qtbot.waitUntil(lambda: opened.document is not None, timeout=WAIT_MS)
    wait_ready(qtbot, opened)
    assert [r.name for r in opened.document.reports()] == ["fc1.weight", "fc2.weight"]
    assert not trust_boxes()


@pytest.mark.slow
def test_a_later_file_never_asks_before_an_earlier_one_can(qtbot, window, tmp_path) -> None:
    first, second = tmp_path / "first.pt", tmp_path / "second.pt"
    for path in (first, second):
        torch.save(PlainNet(), path)
    window.trust_questions.wait_s = 60.0  # the test's workers may start slowly
    window.open_paths([first, second])
    later = view_of(window, second)
    later.trustNeeded.emit(NeedsTrust(second, "holds a pickled object", ("PlainNet",)))
    qtbot.waitUntil(lambda: bool(trust_boxes()), timeout=WAIT_MS)
    (box,) = trust_boxes()
    assert "first.pt" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: any("second.pt" in b.text() for b in trust_boxes()), timeout=WAIT_MS)
    assert len(trust_boxes()) == 1
    trust_boxes()[0].button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: "not trusted" in later.failure, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not later.runner.running("open"), timeout=WAIT_MS)
    qtbot.wait(100)
    assert not trust_boxes()
