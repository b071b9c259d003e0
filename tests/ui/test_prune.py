"""Dragging the manual cutoff, previewing and applying pruning, undo and redo."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from rmt_gui.model.pruning import PruneRule, output_dim, plan
from rmt_gui.model.surgery import parameter_count
from tests.helpers.app_window import WAIT_MS, open_and_wait, wait_ready


def mouse(widget, kind: QEvent.Type, pos: QPointF, buttons: Qt.MouseButton) -> None:
    """Send one raw mouse event to ``widget`` (a graphics view's viewport)."""
    event = QMouseEvent(
        kind, pos, widget.mapToGlobal(pos), Qt.MouseButton.LeftButton, buttons,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(widget, event)


def drag_line(spectrum, to_x: float) -> None:
    """Drag the manual cutoff line from where it is to ``to_x`` (axis units) with the mouse."""
    plot_widget = spectrum.plot_widget
    plot_widget.scene().minDragTime = 0
    vb = spectrum.plot.vb
    (_, _), (y0, y1) = vb.viewRange()
    y = (y0 + y1) / 2

    def viewport_pos(x: float) -> QPointF:
        return QPointF(plot_widget.mapFromScene(vb.mapViewToScene(QPointF(x, y))))

    start, end = viewport_pos(spectrum.manual.value()), viewport_pos(to_x)
    viewport = plot_widget.viewport()
    mouse(viewport, QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    for step in range(1, 11):
        point = start + (end - start) * (step / 10)
        mouse(viewport, QEvent.Type.MouseMove, point, Qt.MouseButton.LeftButton)
    mouse(viewport, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def test_drag_cutoff_sets_a_manual_rank(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.table.select_layer("fc1.weight")
    spectrum = view.spectrum
    data = spectrum.data
    target = data.position_for(40)
    moved: list[int] = []
    spectrum.cutoffMoved.connect(moved.append)
    with qtbot.waitSignal(spectrum.rankChosen, timeout=WAIT_MS) as chosen:
        drag_line(spectrum, target)
    rank = chosen.args[0]
    assert moved and moved[-1] == rank
    assert abs(rank - 40) <= 2
    assert spectrum.manual_label.textItem.toPlainText() == f"keep {rank}"
    assert view.prune.method == "rank" and view.prune.rank.value() == rank
    assert view.prune.selected_only
    wait_ready(qtbot, view)
    assert [p.layer for p in view.preview.plans] == ["fc1.weight"]
    assert view.preview.plans[0].rank == rank
    assert view.table.source.rows[0].keep.startswith(str(rank))


def test_preview_matches_the_core_and_apply_undo_redo(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    doc = view.document
    original = doc.model
    view.prune.keep_noise.setValue(0.3)
    view.prune.factorize.setChecked(True)
    qtbot.waitUntil(lambda: view.preview is not None and view.preview.rule.keep_noise == 0.3)
    rule = PruneRule("bema", keep_noise=0.3, min_rank=output_dim(original), factorize="if_smaller")
    expected = plan(original, ["fc1.weight", "fc2.weight"], rule)
    assert list(view.preview.plans) == expected
    assert f"{parameter_count(original):,}" in view.prune.totals.text()
    view.prune.apply_button.click()
    qtbot.waitUntil(lambda: doc.history.cursor == 1, timeout=WAIT_MS)
    wait_ready(qtbot, view)
    assert doc.dirty and window.tabs.tabText(0).startswith("●")
    names = [row.info.name for row in view.table.source.rows]
    assert "fc1.0.weight" in names and "fc1.1.weight" in names
    assert view.spectrum.report.name == "fc1.0.weight"
    assert view.history.tree.topLevelItemCount() == 2
    assert parameter_count(doc.model) == view.preview.params_before
    assert view.spectrum.overlay_box.itemText(1).startswith("before pruning")
    view.spectrum.overlay_box.setCurrentIndex(1)
    assert view.spectrum.overlay_report is doc.report("fc1.weight", original)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert doc.history.cursor == 0 and doc.model is original
    assert [row.info.name for row in view.table.source.rows] == ["fc1.weight", "fc2.weight"]
    assert not doc.dirty
    qtbot.keyClick(
        window, Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )  # fmt: skip
    assert doc.history.cursor == 1
    view.jump(0)
    assert doc.history.cursor == 0


def test_selected_scope_and_shrink(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.prune.scope_selected.setChecked(True)
    view.table.select_layer("fc2.weight")
    view.prune.method_box.setCurrentIndex(view.prune.method_box.findData("shrink"))
    qtbot.waitUntil(
        lambda: view.preview is not None and view.preview.rule.method == "shrink"
        and [p.layer for p in view.preview.plans] == ["fc2.weight"],
        timeout=WAIT_MS,
    )  # fmt: skip
    view.apply_pruning()
    qtbot.waitUntil(lambda: view.document.history.cursor == 1, timeout=WAIT_MS)
    step = view.document.history.current
    assert [c.layer for c in step.changes] == ["fc2.weight"]
    assert "on fc2.weight" in step.description
