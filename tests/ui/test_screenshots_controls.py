"""Controls that do what they say, and the Train tab's texts, checked and saved as screenshots.

The wheel over an unfocused box scrolls its panel; combo boxes show their whole text; Factorise
is greyed out for TorchScript; the preview summary agrees with its table; a paused run shows no
ETA; a stopped run shows the accuracy of what it saved and opens under its run folder's name.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QScrollArea, QWidget

from rmt_gui.ui.prune_panel import CELL_PADDING, NOTE_COLUMN
from tests.helpers.app_window import (
    WAIT_MS,
    open_and_wait,
    save_screenshot,
    small_training,
    wait_ready,
)
from tests.helpers.model_files import save_torchscript, sequential


def wheel_down(widget: QWidget) -> None:
    """One notch of the mouse wheel (down) over ``widget``'s top left corner."""
    inside = QPoint(4, 4)
    event = QWheelEvent(
        QPointF(inside), QPointF(widget.mapToGlobal(inside)), QPoint(), QPoint(0, -120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
        False,
    )  # fmt: skip
    QApplication.sendEvent(widget, event)


def text_fits(box: QComboBox) -> bool:
    """Whether ``box`` is wide enough for its current text (plus the arrow's room)."""
    return box.fontMetrics().horizontalAdvance(box.currentText()) + 24 <= box.width()


def test_the_wheel_scrolls_the_train_form_not_its_settings(qtbot, window) -> None:
    panel = window.training.show()
    form = panel.form
    scroll = form.parentWidget().parentWidget()
    assert isinstance(scroll, QScrollArea)
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0, "the form should need scrolling at this size"
    panel.start_button.setFocus()
    formula, epochs = form.formula.currentIndex(), form.epochs.value()
    for box in (form.formula, form.epochs, form.variant):
        assert box.focusPolicy() == Qt.FocusPolicy.StrongFocus
        before = bar.value()
        wheel_down(box)
        assert bar.value() > before or bar.value() == bar.maximum()
    assert (form.formula.currentIndex(), form.epochs.value()) == (formula, epochs)
    save_screenshot(window, "18_train_form_controls")
    form.formula.setFocus()
    qtbot.waitUntil(form.formula.hasFocus)
    wheel_down(form.formula)
    assert form.formula.currentIndex() != formula
    combos = [form.source, form.every_unit, form.first_cut, form.variant, form.formula]
    assert all(text_fits(box) for box in combos), [b.currentText() for b in combos]
    assert "notebook" in form.first_cut.toolTip()
    output = form.output.mapTo(panel, QPoint(0, form.output.height()))
    assert form.out_folder.isVisible() and output.y() <= panel.height()


def test_the_preview_summary_agrees_with_its_table(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    prune = view.prune
    view.table.select_layer("fc1.weight")
    prune.use_rank(500)
    wait_ready(qtbot, view)
    qtbot.waitUntil(lambda: prune.table.item(0, 1).text() == "64 → 64", timeout=WAIT_MS)
    summary = prune.totals.text()
    assert "0 of 1 layer changed ·" in summary and "factorised" not in summary
    assert prune.table.item(0, NOTE_COLUMN).text().startswith("unchanged")
    assert not prune.apply_button.isEnabled()
    assert prune.apply_button.text() == "Nothing to apply"
    prune.rank.setValue(20)
    qtbot.waitUntil(lambda: prune.table.item(0, 1).text() == "64 → 20", timeout=WAIT_MS)
    assert prune.apply_button.text() == "Apply to 1 layer" and prune.apply_button.isEnabled()
    summary = prune.totals.text()
    assert "1 of 1 layer changed (1 factorised)" in summary
    header, metrics = prune.table.horizontalHeader(), prune.table.fontMetrics()
    name = prune.table.item(0, 0).text()
    assert metrics.horizontalAdvance(name) < header.sectionSize(0), name
    note = prune.table.item(0, NOTE_COLUMN).text()
    room = QRect(0, 0, header.sectionSize(NOTE_COLUMN) - CELL_PADDING, 10_000)
    wrapped = metrics.boundingRect(room, Qt.TextFlag.TextWordWrap, note)
    assert wrapped.width() <= room.width() and wrapped.height() <= prune.table.rowHeight(0), note
    assert text_fits(prune.method_box) and prune.factorize.isEnabled()
    save_screenshot(window, "19_preview_summary")


def test_factorise_is_greyed_out_for_torchscript(qtbot, window, tmp_path) -> None:
    path = save_torchscript(sequential(), tmp_path / "scripted.pt")
    view = open_and_wait(qtbot, window, path)
    factorize = view.prune.factorize
    assert not factorize.isEnabled() and "TorchScript" in factorize.toolTip()
    assert all(not row.plan.factorize for row in view.preview_rows)
    save_screenshot(view.prune, "20_torchscript_prune_panel")


@pytest.mark.slow
def test_a_paused_then_stopped_run_reads_right(qtbot, window, tmp_path) -> None:
    panel = window.training.show()
    small_training(panel, tmp_path, limit=1600, epochs=50, every=500, compare=True)
    panel.start()
    run = panel.session.runs[0]
    qtbot.waitUntil(lambda: run.step >= 30, timeout=WAIT_MS)
    panel.toggle_pause()
    qtbot.waitUntil(lambda: run.status == "paused", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "paused" in panel.progress.format(), timeout=WAIT_MS)
    assert "ETA" not in panel.progress.format()
    save_screenshot(window, "21_train_paused")
    panel.toggle_pause()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    assert [r.label for r in panel.session.runs] == ["RMT-pruned"]
    ended = run.ended
    label = panel.state_label.text()
    assert f"test accuracy {100 * ended.test_accuracy:.2f}% (cancelled.pt)" in label
    assert f"epoch {ended.epochs_done:.2f} of 50" in label
    ((_, status, epochs, accuracy, *_),) = panel.table.texts()
    assert (status, epochs) == ("cancelled", f"{ended.epochs_done:.2f}")
    assert accuracy == f"{100 * ended.test_accuracy:.2f}%"
    title = f"{run.run_dir.name} · cancelled"
    tabs = window.tabs
    qtbot.waitUntil(
        lambda: title in [tabs.tabText(i) for i in range(tabs.count())], timeout=WAIT_MS
    )
    opened = next(v for v in window.views() if v.path.name == "cancelled.pt")
    qtbot.waitUntil(lambda: opened.document is not None, timeout=WAIT_MS)
    assert all(path.name != "cancelled.pt" for path in window.settings.recent_files())
    save_screenshot(window, "22_train_cancelled")
