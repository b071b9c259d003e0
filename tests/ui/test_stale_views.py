"""Views that used to show stale state: each follows its document after undo, redo, tabs, Cancel."""

from __future__ import annotations

from pathlib import Path

import torch
from PySide6.QtWidgets import QApplication, QMessageBox

from rmt_gui.model.native import save_native
from rmt_gui.model.tree import build_mlp
from tests.helpers.app_window import WAIT_MS, open_and_wait, wait_ready
from tests.helpers.model_files import PlainNet

TRUST_BOX = "trustBox"


def _trust_box() -> QMessageBox | None:
    """The visible trust question, if any."""
    for widget in QApplication.topLevelWidgets():
        if (
            isinstance(widget, QMessageBox)
            and widget.objectName() == TRUST_BOX
            and widget.isVisible()
        ):
            return widget
    return None


def _preview_cells(view) -> list[list[str]]:
    """The texts of the prune panel's preview table, row by row."""
    table = view.prune.table
    return [[table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())]


def _apply_and_wait(qtbot, view) -> None:
    """Apply the shown preview and wait for the new state's analysis and preview."""
    cursor = view.document.history.cursor
    view.prune.apply_button.click()
    qtbot.waitUntil(lambda: view.document.history.cursor == cursor + 1, timeout=WAIT_MS)
    wait_ready(qtbot, view)


def test_the_sweep_tab_follows_undo_and_redo(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    layer = view.current_layer()
    view.tasks.sweep()
    qtbot.waitUntil(
        lambda: len(view.sweep.ranks) == 4 and not view.runner.running("sweep"), timeout=WAIT_MS
    )
    assert view.sweep.bema_line.isVisible()
    _apply_and_wait(qtbot, view)
    view.history.undo_button.click()
    assert view.current_layer() == layer and len(view.sweep.ranks) == 4
    view.history.redo_button.click()
    x, _ = view.sweep.curve.getData()
    assert view.sweep.ranks == [] and (x is None or len(x) == 0)
    assert not view.sweep.bema_line.isVisible()
    assert "press Run sweep" in view.sweep.title.text()
    assert view.sweep.start_button.isEnabled()


def test_status_messages_stay_with_their_tab(qtbot, window, model_files) -> None:
    small = open_and_wait(qtbot, window, model_files["small"])
    other = open_and_wait(qtbot, window, model_files["other"])
    window.tabs.setCurrentWidget(small)
    _apply_and_wait(qtbot, small)
    qtbot.waitUntil(lambda: "parameters removed" in window.message.text(), timeout=WAIT_MS)
    window.tabs.setCurrentWidget(other)
    assert "parameters removed" not in window.message.text()
    assert "other.pt" in window.message.text()
    window.tabs.setCurrentWidget(small)
    assert "parameters removed" in window.message.text()


def test_cancelling_the_trust_question_clears_the_wait(qtbot, window, tmp_path) -> None:
    path = tmp_path / "module.pt"
    torch.save(PlainNet(), path)
    window.open_paths([path])
    qtbot.waitUntil(lambda: _trust_box() is not None, timeout=WAIT_MS)
    assert "waiting for your decision" in window.message.text()
    _trust_box().button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: _trust_box() is None, timeout=WAIT_MS)
    assert "waiting" not in window.message.text()
    assert "module.pt was not opened" in window.message.text()


def test_the_history_panel_lists_the_steps_the_header_counts(qtbot, window, tmp_path: Path) -> None:
    path = tmp_path / "pruned.pt"
    steps = [f"step {i}" for i in range(10)]
    with path.open("wb") as handle:
        save_native(build_mlp([784, 24, 10], seed=0), handle, steps, {})
    view = open_and_wait(qtbot, window, path)
    assert "10 history steps" in view.header.text()
    assert view.history.earlier.isVisibleTo(view)
    assert "10 earlier steps" in view.history.earlier.text()
    assert view.history.earlier.toolTip().splitlines() == [f"{i + 1}. step {i}" for i in range(10)]
    assert view.history.tree.topLevelItemCount() == 1


def test_the_preview_never_raises_a_rank_nor_counts_unchanged_layers(
    qtbot, window, tmp_path: Path
) -> None:
    path = tmp_path / "truncated.pt"
    model = build_mlp([784, 64, 10], seed=0)
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    u, s, vh = torch.linalg.svd(first.weight.detach(), full_matrices=False)
    with torch.no_grad():
        first.weight.copy_((u[:, :40] * s[:40]) @ vh[:40])
    with path.open("wb") as handle:
        save_native(model, handle, ["truncated"], {})
    view = open_and_wait(qtbot, window, path)
    assert [r.rank for r in view.document.reports()] == [40, 10]
    view.prune.factorize.setChecked(False)
    view.prune.use_rank(50)
    view.prune.scope_all.setChecked(True)
    qtbot.waitUntil(
        lambda: view.preview is not None and view.preview.rule.rank == 50, timeout=WAIT_MS
    )
    cells = _preview_cells(view)
    assert [row[1] for row in cells] == ["40 → 40", "10 → 10"]
    assert all("factorised" not in row[3] and "unchanged" in row[3] for row in cells)
    assert "0 of 2 layers changed" in view.prune.totals.text()
    assert not view.prune.apply_button.isEnabled()
    assert [row.keep for row in view.table.source.rows] == ["40", "10"]
    view.prune.factorize.setChecked(True)
    qtbot.waitUntil(
        lambda: view.preview is not None and view.preview.rule.factorize == "if_smaller",
        timeout=WAIT_MS,
    )
    assert view.prune.table.item(0, 1).text() == "40 → 40"
    assert all(row[3].startswith("unchanged") for row in _preview_cells(view))
    assert "0 of 2 layers changed ·" in view.prune.totals.text()
    view.prune.rank.setValue(30)
    qtbot.waitUntil(lambda: view.prune.table.item(0, 1).text() == "40 → 30", timeout=WAIT_MS)
    assert view.prune.table.item(0, 3).text().startswith("factorised")
    assert "1 of 2 layers changed (1 factorised)" in view.prune.totals.text()
    _apply_and_wait(qtbot, view)
    (change,) = view.document.history.current.changes
    assert (change.rank_after, change.params_after) == (30, 30 * (784 + 64) + 64)
