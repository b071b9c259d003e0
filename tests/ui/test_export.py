"""Export of the pruned model in every format, the report, plot images, and the close prompt."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.surgery import get_weight
from rmt_gui.ui.dialogs import EXPORT_FILTERS
from tests.helpers.app_window import WAIT_MS, open_and_wait, wait_ready


def prune(qtbot, view) -> None:
    """Apply the default BEMA rule and wait for the new state's analysis."""
    view.apply_pruning()
    qtbot.waitUntil(lambda: view.document.history.cursor == 1, timeout=WAIT_MS)
    wait_ready(qtbot, view)


@pytest.mark.parametrize("fmt", ["rmt-gui", "state-dict", "safetensors", "torchscript"])
def test_export_and_reload(qtbot, window, model_files, tmp_path, monkeypatch, fmt) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    prune(qtbot, view)
    assert view.document.dirty
    label = next(k for k, v in EXPORT_FILTERS.items() if v[0] == fmt)
    target = tmp_path / "pruned"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), label))
    view.tasks.export_model()
    written = target.with_suffix(EXPORT_FILTERS[label][1])
    qtbot.waitUntil(lambda: not view.document.dirty, timeout=WAIT_MS)
    assert str(written) in window.message.text()
    reopened = open_checkpoint(written)
    model = view.document.model
    names = [info.name for info in reopened.layers()]
    assert "fc1.0.weight" in names
    rebuilt = reopened.build_model()
    np.testing.assert_allclose(
        get_weight(rebuilt, "fc1.0.weight").numpy(), get_weight(model, "fc1.0.weight").numpy()
    )
    if fmt == "rmt-gui":
        assert reopened.history[-1].startswith("BEMA")


def test_export_error_is_shown(qtbot, window, model_files, tmp_path, monkeypatch) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    target = tmp_path / "missing-folder" / "model.pt"
    label = next(iter(EXPORT_FILTERS))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), label))
    view.tasks.export_model()
    qtbot.waitUntil(lambda: "Export failed" in window.message.text(), timeout=WAIT_MS)
    assert "does not exist" in window.message.text()
    box = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "errorBox")
    assert "model.pt" in box.text()
    box.accept()


def test_report_html_csv_json(qtbot, window, model_files, tmp_path) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    base = tmp_path / "report.html"
    view.tasks.export_report(base)
    qtbot.waitUntil(lambda: "Report written" in window.message.text(), timeout=WAIT_MS)
    page = base.read_text()
    assert page.count("data:image/png;base64,") == 2
    document = json.loads(base.with_suffix(".json").read_text())
    expected = view.document.report("fc1.weight").analysis.to_json()
    assert document["layers"][0]["n_signal"] == expected["n_signal"]
    assert document["layers"][0]["sigma2"] == pytest.approx(expected["sigma2"])
    rows = base.with_suffix(".csv").read_text().splitlines()
    assert rows[0].startswith("name,shape,params,rank,n_signal")
    assert rows[1].startswith("fc1.weight,64x784,")


def test_save_plot_png_and_svg(qtbot, window, model_files, tmp_path, monkeypatch) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    for name, kind in (("plot.png", "PNG image (*.png)"), ("plot.svg", "SVG image (*.svg)")):
        monkeypatch.setattr(
            QFileDialog, "getSaveFileName", lambda *a, n=name, k=kind, **kw: (str(tmp_path / n), k)
        )
        view.tasks.save_plot()
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "plot.svg").read_text()


def answer_close_prompt(button_text: str, seen: list[str]) -> None:
    """Click ``button_text`` in the unsaved-work box as soon as it is open."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        next(b for b in box.buttons() if b.text() == button_text).click()

    QTimer.singleShot(20, click)


def test_close_prompts_with_unsaved_pruning(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    prune(qtbot, view)
    seen: list[str] = []
    answer_close_prompt("Cancel", seen)
    assert not window.close()
    assert "small.pt" in seen[0]
    assert window.isVisible()
    answer_close_prompt("Discard", seen)
    assert window.close()
    assert len(seen) == 2


def test_closing_a_dirty_tab_asks_too(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    prune(qtbot, view)
    seen: list[str] = []
    answer_close_prompt("Cancel", seen)
    window.close_tab(0)
    assert window.tabs.count() == 1 and seen
