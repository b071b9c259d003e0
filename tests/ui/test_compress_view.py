"""The Compress view: the accuracy–size curve drawn as it is measured, cancel, pick, apply."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt

from rmt_gui.errors import FileError
from rmt_gui.model.allocation import tensor_count
from tests.helpers.app_window import WAIT_MS, open_and_wait, save_screenshot

FRACTIONS = (0.06, 0.1, 0.2)


def small_curve(view) -> None:
    """Curve settings for a test: 3,000 training images, three budgets, 10 fine-tune steps."""
    panel = view.compress
    panel.train_images.setValue(3000)
    panel.validation.setValue(500)
    panel.calibration.setValue(256)
    panel.finetune_steps.setValue(10)
    panel.fractions = FRACTIONS
    view.show_view(panel)


def click_point(qtbot, panel, point) -> None:
    """A real left click on ``point``'s symbol in the plot."""
    box = panel.plot.getViewBox()
    scene = box.mapViewToScene(QPointF(100.0 * point.kept, 100.0 * point.val_accuracy))
    pos = panel.plot_widget.mapFromScene(scene)
    qtbot.mouseClick(panel.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def check_exports(panel, target, tmp_path: Path) -> None:
    """The CSV holds every point (``target``'s accuracy exactly), refuses to replace a file,
    and the plot writes as SVG and PNG."""
    state = panel.state
    csv_path = panel.save_csv(tmp_path / "curve.csv")
    rows = list(csv.DictReader(csv_path.read_text().splitlines()))
    assert len(rows) == len(state.points)
    assert {r["method"] for r in rows} == {"bema", "svd", "whitened", "whitened+finetune"}
    row = next(r for r in rows if r["method"] == "whitened" and r["params"] == str(target.params))
    assert float(row["val_accuracy"]) == pytest.approx(target.val_accuracy, abs=1e-6)
    with pytest.raises(FileError):
        panel.save_csv(csv_path)
    assert panel.save_plot(tmp_path / "curve.svg").read_bytes().lstrip().startswith(b"<?xml")
    assert panel.save_plot(tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_curve_fills_in_then_a_clicked_point_applies_and_undoes(
    qtbot, window, model_files, tmp_path: Path
) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    small_curve(view)
    panel, doc = view.compress, view.document
    panel.run_button.click()
    assert panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: len(panel.state.points) >= 2, timeout=WAIT_MS)
    assert not panel.state.complete
    qtbot.waitUntil(lambda: not panel.cancel_button.isEnabled(), timeout=WAIT_MS)
    state = panel.state
    assert state.complete and len(state.points) == 1 + 3 * len(FRACTIONS)
    for method in ("svd", "whitened", "whitened+finetune"):
        x, y = panel.series[method].getData()
        assert list(x) == pytest.approx([100 * p.kept for p in state.series(method)])
        assert len(y) == len(FRACTIONS) and all(0 <= v <= 100 for v in y)
        assert max(x) <= 100 * FRACTIONS[-1]
    bema_x, _ = panel.series["bema"].getData()
    assert list(bema_x) == pytest.approx([100 * state.bema.kept])
    assert panel.original_line.isVisible()
    assert panel.original_line.value() == pytest.approx(100 * state.start.val_accuracy)

    target = state.series("whitened")[1]
    click_point(qtbot, panel, target)
    assert panel.selected == target
    ranks = dict(target.ranks)
    shown = {panel.table.item(r, 0).text(): panel.table.item(r, 1).text()
             for r in range(panel.table.rowCount())}  # fmt: skip
    assert shown == {k: "dense" if v is None else str(v) for k, v in ranks.items()}
    ring_x, _ = panel.ring.getData()
    assert list(ring_x) == pytest.approx([100 * target.kept])
    save_screenshot(view, "compress_curve")

    check_exports(panel, target, tmp_path)
    panel.method_box.setCurrentIndex(panel.method_box.findData("svd"))
    panel.budget.setValue(100 * FRACTIONS[1])
    panel.pick_button.click()
    assert panel.selected == state.within("svd", FRACTIONS[1]) == state.series("svd")[1]
    click_point(qtbot, panel, target)

    original = doc.model
    steps = len(doc.history.steps)
    panel.apply_button.click()
    qtbot.waitUntil(lambda: len(doc.history.steps) == steps + 1, timeout=WAIT_MS)
    assert tensor_count(doc.model) == target.params
    assert "whitened SVD" in doc.history.current.description
    assert not panel.apply_button.isEnabled()
    compressed = doc.history.current
    view.tasks.evaluate()
    qtbot.waitUntil(lambda: compressed.evaluation is not None, timeout=WAIT_MS)
    assert compressed.evaluation.count == 500 and compressed.evaluation.accuracy > 0.5
    view.history.undo_button.click()
    assert doc.model is original
    qtbot.waitUntil(panel.apply_button.isEnabled, timeout=WAIT_MS)


@pytest.mark.slow
def test_cancel_stops_the_curve_and_keeps_its_points(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    small_curve(view)
    panel = view.compress
    panel.run_button.click()
    qtbot.waitUntil(lambda: len(panel.state.points) >= 1, timeout=WAIT_MS)
    panel.cancel_button.click()
    assert "cancelled" in panel.title.text()
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    kept = len(panel.state.points)
    qtbot.wait(1500)
    assert len(panel.state.points) == kept < panel.state.total
    panel.select(panel.state.points[0])
    assert panel.table.rowCount() == 2
