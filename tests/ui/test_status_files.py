"""Status lines that belong to their tab and expire, save dialogs in the user's folder, readable
texts, and evaluation and sweep progress that count what they do (with screenshots)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from rmt_gui.state import events, save_folder
from rmt_gui.ui.history_panel import HistoryPanel
from tests.helpers.app_window import WAIT_MS, open_and_wait, save_screenshot

SHORT_S = 0.3


@pytest.fixture
def short_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Information lines expire after ``SHORT_S`` instead of 8 s."""
    monkeypatch.setattr(events, "INFO_SECONDS", SHORT_S)


def _red(window) -> bool:
    return "color" in window.message.styleSheet()


def test_notes_expire_errors_stay_until_the_next_action(
    qtbot, window, model_files, short_notes
) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    doc = view.document
    doc.post_status("Plot saved to /tmp/x.png")
    assert window.message.text() == "Plot saved to /tmp/x.png"
    qtbot.waitUntil(lambda: window.message.text() == "Ready", timeout=5_000)
    assert doc.status.text == ""
    doc.post_status("2 layers analysed")
    for done in range(4):  # progress updates do not restart the note's time
        doc.set_busy("Rendering report…", done, 4)
        qtbot.wait(round(500 * SHORT_S))
    doc.set_busy("")
    assert window.message.text() == "Ready"
    doc.post_status("Export failed: disk full", True)
    qtbot.wait(round(3000 * SHORT_S))
    assert window.message.text() == "Export failed: disk full" and _red(window)
    save_screenshot(window, "status_error_stays")
    doc.set_busy("Exporting to small-pruned.pt…")
    doc.set_busy("")
    assert window.message.text() == "Ready" and not _red(window)


def test_cancel_replaces_a_red_line_which_then_goes(
    qtbot, window, model_files, short_notes
) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.document.post_status("small.pt: pruning failed: out of memory", True)
    window.cancel_background()
    assert window.message.text() == "Cancelled" and not _red(window)
    qtbot.waitUntil(lambda: window.message.text() == "Ready", timeout=5_000)


def test_the_train_tab_shows_its_own_messages_only(qtbot, window, model_files, tmp_path) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.document.post_status("small.pt: evaluation failed: no data", True)
    window.workspace.post_status("Cannot open bad.pt: truncated file", True)
    panel = window.training.show()
    assert window.message.text() == "Ready" and not _red(window)
    window.training.post_status("Training finished")
    assert window.message.text() == "Training finished"
    window.tabs.setCurrentWidget(view)
    assert window.message.text() == "small.pt: evaluation failed: no data" and _red(window)
    window.training.post_status("Training stopped")
    assert window.message.text() == "small.pt: evaluation failed: no data"
    window.tabs.setCurrentWidget(panel)
    assert window.message.text() == "Training stopped"
    save_screenshot(window, "status_train_tab_own_line")


@pytest.mark.slow
def test_save_dialogs_start_in_the_last_folder_never_the_installation(
    qtbot, window, model_files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed, home, chosen = tmp_path / "resources", tmp_path / "home", tmp_path / "exports"
    for folder in (installed, home, chosen):
        folder.mkdir()
    bundled = shutil.copy(model_files["small"], installed / "default_model.pt")
    monkeypatch.setattr(save_folder, "INSTALLED", (installed,))
    monkeypatch.setattr(Path, "home", classmethod(lambda _cls: home))
    offered: list[Path] = []

    def dialog(parent, caption, suggested, filters, selected=""):
        offered.append(Path(suggested))
        return str(chosen / Path(suggested).name), selected

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    view = open_and_wait(qtbot, window, Path(bundled))
    view.tasks.export_model()
    written = chosen / "default_model-pruned.pt"
    qtbot.waitUntil(lambda: str(written) in window.message.text(), timeout=WAIT_MS)
    assert window.message.text().startswith(f"Exported rmt-gui checkpoint to {written}: size ")
    view.tasks.export_report()
    qtbot.waitUntil(lambda: "Report written" in window.message.text(), timeout=WAIT_MS)
    assert offered == [home / "default_model-pruned.pt", chosen / "default_model-report.html"]
    assert window.settings.save_folder() == chosen
    page = (chosen / "default_model-report.html").read_text(encoding="utf-8")
    assert "rmt-gui checkpoint, MLP, 1 history step" in page
    assert "rmt-gui rmt-gui" not in page and "rmt-gui (rmt-gui" not in view.header.text()
    assert "<th>Gavish–Donoho rank</th>" in page and "<th>rank_gavish_donoho</th>" not in page
    assert "— rmt-gui checkpoint, MLP, 1 history step ·" in view.header.text()
    assert "1 earlier step" in view.history.earlier.text()


@pytest.mark.slow
def test_evaluation_shows_starting_and_loading_before_counting_images(
    qtbot, window, model_files, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    phases: list[str] = []
    original = HistoryPanel.set_phase

    def recorded(panel: HistoryPanel, text: str) -> None:
        phases.append(text)
        original(panel, text)

    monkeypatch.setattr(HistoryPanel, "set_phase", recorded)
    view.tasks.evaluate()
    bar = view.history.progress
    assert bar.isVisibleTo(view) and bar.format() == "starting the evaluation…"
    assert view.history.cancel_button.isEnabled()
    save_screenshot(view.history, "evaluation_starting")
    qtbot.waitUntil(lambda: view.document.history.current.evaluation is not None, timeout=WAIT_MS)
    assert phases == ["starting the evaluation…", "loading the MNIST test images…"]
    text = window.message.text()
    assert text.startswith("Step 0 (opened small.pt): accuracy ")
    assert "on 500 test images (" in text and "s starting and loading the data)" in text
    total = float(text.split("test images (")[1].split(" s,")[0])
    waited = float(text.split("of which ")[1].split(" s")[0])
    assert 0 <= waited <= total
    assert not bar.isVisibleTo(view) and view.history.evaluate_button.isEnabled()


@pytest.mark.slow
def test_the_sweep_evaluates_the_number_of_ranks_shown(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.show_view(view.sweep)
    view.sweep.points.setValue(5)
    view.tasks.sweep()
    qtbot.waitUntil(view.sweep.progress.isVisible, timeout=WAIT_MS)
    assert view.sweep.progress.format().endswith("/ 5 ranks evaluated")
    qtbot.waitUntil(lambda: len(view.sweep.ranks) == 5, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not view.runner.running("sweep"), timeout=WAIT_MS)
    sweep = view.document.sweep()
    assert sweep.total == len(sweep.points) == 5 and sweep.n_signal in view.sweep.ranks
    assert view.sweep.points.text() == "5 ranks" and "(5 ranks)" in view.sweep.title.text()
    save_screenshot(window, "rank_sweep_counts")
