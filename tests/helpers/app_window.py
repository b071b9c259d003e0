"""Helpers for the app tests: wait until a tab is ready, find dialogs, set up runs, grab screens."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from rmt_gui.ui.main_window import MainWindow

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
WAIT_MS = 60_000


def open_and_wait(qtbot, win: MainWindow, path: Path, preview: bool = True):
    """Open ``path`` and wait until its spectra (and prune preview) are ready."""
    win.open_paths([path])
    view = win.tabs.currentWidget()
    qtbot.waitUntil(lambda: view.document is not None, timeout=WAIT_MS)
    wait_ready(qtbot, view, preview)
    return view


def wait_ready(qtbot, view, preview: bool = True) -> None:
    """Wait until every layer of the current state is analysed and a preview is shown."""
    qtbot.waitUntil(
        lambda: view.document.analysis().complete and not view.runner.running("open")
        and (not preview or (view.preview is not None
                             and view.preview.model is view.document.model)),
        timeout=WAIT_MS,
    )  # fmt: skip


def save_screenshot(widget, name: str) -> Path:
    """Grab ``widget`` into ``tests/screenshots/NAME.png`` (after pending layout updates)."""
    QApplication.processEvents()
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert widget.grab().save(str(path))
    return path


def small_training(
    panel,
    out: Path,
    *,
    limit: int = 3200,
    epochs: int = 2,
    every: int = 50,
    dims: str = "784,64,10",
    compare: bool = False,
) -> None:
    """Train-panel settings for a short run: batches of 32 from the first ``limit`` images."""
    form = panel.form
    form.dims.setText(dims)
    form.epochs.setValue(epochs)
    form.batch.setValue(32)
    form.limit_train.setValue(limit)
    form.limit_test.setValue(500)
    form.every.setValue(every)
    form.every_unit.setCurrentIndex(form.every_unit.findData("steps"))
    form.compare.setChecked(compare)
    form.out_folder.setText(str(out))


def message_box(name: str) -> QMessageBox | None:
    """The open message box called ``name``, if any."""
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.objectName() == name and widget.isVisible():
            return widget
    return None


def shown_step(panel) -> int | None:
    """The step of the snapshot the spectra views show now."""
    run = panel.spectra.run
    return run.spectra.step if run is not None and run.spectra is not None else None
