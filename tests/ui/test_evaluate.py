"""Evaluation with progress and cancel, missing data, and the rank sweep."""

from __future__ import annotations

import math

import pytest
from PySide6.QtWidgets import QApplication, QFileDialog

from rmt_gui.model.data import load_mnist
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.surgery import truncate
from rmt_gui.ui.dialogs import DataMissingDialog
from tests.helpers.app_window import WAIT_MS, open_and_wait, wait_ready
from tests.helpers.paths import DATA_DIR


def test_evaluate_records_the_result_on_the_step(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    step = view.document.history.current
    assert view.history.count.value() == 500
    seen: list[int] = []
    view.history.progress.valueChanged.connect(seen.append)
    view.history.evaluate_button.click()
    qtbot.waitUntil(lambda: step.evaluation is not None, timeout=WAIT_MS)
    expected = evaluate(step.model, load_mnist(DATA_DIR).head(500))
    assert step.evaluation.count == 500
    assert step.evaluation.accuracy == pytest.approx(expected.accuracy)
    assert step.evaluation.loss == pytest.approx(expected.loss, rel=1e-5)
    assert step.evaluation.accuracy > 0.5
    assert f"{100 * expected.accuracy:.2f}%" in view.history.tree.topLevelItem(0).text(3)
    assert not view.history.progress.isVisible()
    assert "accuracy" in window.message.text()


def test_evaluation_can_be_cancelled(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.history.count.setValue(10_000)
    step = view.document.history.current
    view.tasks.evaluate()
    assert view.history.cancel_button.isEnabled()
    view.history.cancel_button.click()
    assert not view.history.progress.isVisible()
    assert view.history.evaluate_button.isEnabled()
    qtbot.waitUntil(lambda: not view.runner.running("evaluate"), timeout=WAIT_MS)
    QApplication.processEvents()
    assert step.evaluation is None


def test_missing_data_asks_and_a_chosen_folder_works(
    qtbot, window, model_files, tmp_path, monkeypatch
) -> None:
    window.settings.set_data_folder(tmp_path / "empty")
    view = open_and_wait(qtbot, window, model_files["small"])
    view.tasks.evaluate()
    dialog = window.data.dialog
    assert isinstance(dialog, DataMissingDialog) and dialog.isVisible()
    assert str(tmp_path / "empty") in dialog.findChildren(type(view.header))[0].text()
    assert view.spectrum.report is not None
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(DATA_DIR))
    dialog.choose_button.click()
    step = view.document.history.current
    qtbot.waitUntil(lambda: step.evaluation is not None, timeout=WAIT_MS)
    assert window.settings.data_folder() == DATA_DIR


def test_rank_sweep_fills_in_and_matches_truncation(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.table.select_layer("fc1.weight")
    view.show_view(view.sweep)
    view.sweep.points.setValue(4)
    report = view.document.report("fc1.weight")
    view.sweep.start_button.click()
    assert view.sweep.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not view.sweep.cancel_button.isEnabled(), timeout=WAIT_MS)
    ranks = sorted(view.sweep.ranks)
    assert report.analysis.fit.n_signal in ranks and ranks[-1] == report.analysis.fit.p
    x, _ = view.sweep.curve.getData()
    assert len(x) == len(ranks)
    data = load_mnist(DATA_DIR).head(500)
    low = ranks[0]
    pruned, _ = truncate(view.document.model, "fc1.weight", low, "never")
    expected = evaluate(pruned, data).accuracy
    got = view.sweep.accuracy[view.sweep.ranks.index(low)]
    assert got == pytest.approx(100 * expected)
    assert view.sweep.bema_line.value() == pytest.approx(math.log10(report.analysis.fit.n_signal))


@pytest.mark.slow
def test_sweep_cancel_keeps_points(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.history.count.setValue(10_000)
    view.sweep.points.setValue(30)
    view.tasks.sweep()
    qtbot.waitUntil(lambda: len(view.sweep.ranks) >= 1, timeout=WAIT_MS)
    view.sweep.cancel_button.click()
    assert "cancelled" in view.sweep.title.text()
    wait_ready(qtbot, view)
    assert 1 <= len(view.sweep.ranks) < 30


def test_linear_sweep_starts_at_a_zeroed_layer(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.table.select_layer("fc1.weight")
    view.show_view(view.sweep)
    view.sweep.log_box.setChecked(False)
    view.sweep.points.setValue(3)
    view.sweep.start_button.click()
    qtbot.waitUntil(lambda: not view.sweep.cancel_button.isEnabled(), timeout=WAIT_MS)
    assert sorted(view.sweep.ranks)[0] == 0
    zeroed, _ = truncate(view.document.model, "fc1.weight", 0, "never")
    expected = evaluate(zeroed, load_mnist(DATA_DIR).head(500)).accuracy
    assert view.sweep.accuracy[view.sweep.ranks.index(0)] == pytest.approx(100 * expected)
    x, _ = view.sweep.curve.getData()
    assert x[0] == 0 and not view.sweep.plot.getAxis("bottom").logMode
    view.sweep.log_box.setChecked(True)
    x, _ = view.sweep.curve.getData()
    assert len(x) == len(view.sweep.ranks) - 1
    assert "k = 0 is not shown" in view.sweep.plot.getAxis("bottom").labelText
