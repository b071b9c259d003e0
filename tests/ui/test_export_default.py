"""The app's export dialog starts on a format that keeps the open model runnable."""

from __future__ import annotations

from pathlib import Path

import torch
from PySide6.QtWidgets import QFileDialog

from rmt_gui.model.opener import open_checkpoint
from rmt_gui.ui.dialogs import EXPORT_FILTERS
from tests.helpers.app_window import WAIT_MS, open_and_wait
from tests.helpers.model_files import SmallCnn, save_torchscript


def test_scripted_cnn_is_offered_as_torchscript(qtbot, window, tmp_path, monkeypatch) -> None:
    torch.manual_seed(0)
    source = save_torchscript(SmallCnn(), tmp_path / "cnn.pt")
    view = open_and_wait(qtbot, window, source, preview=False)
    offered: list[tuple[str, str]] = []

    def dialog(parent, caption, suggested, filters, selected):
        offered.append((suggested, selected))
        return suggested, selected

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    view.tasks.export_model()
    written = tmp_path / "cnn-pruned.ts"
    qtbot.waitUntil(lambda: str(written) in window.message.text(), timeout=WAIT_MS)
    torchscript = next(k for k, v in EXPORT_FILTERS.items() if v[0] == "torchscript")
    assert offered == [(str(written), torchscript)]
    assert "warning" not in window.message.text()
    assert open_checkpoint(written).format == "torchscript"


def test_weights_only_choice_is_flagged_in_the_status(
    qtbot, window, tmp_path: Path, monkeypatch
) -> None:
    torch.manual_seed(0)
    source = save_torchscript(SmallCnn(), tmp_path / "cnn.pt")
    view = open_and_wait(qtbot, window, source, preview=False)
    label = next(k for k, v in EXPORT_FILTERS.items() if v[0] == "state-dict")
    target = tmp_path / "weights.pth"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(target), label))
    view.tasks.export_model()
    qtbot.waitUntil(lambda: target.exists() and "warning" in window.message.text(), timeout=WAIT_MS)
    assert "holds weights only" in window.message.text()
