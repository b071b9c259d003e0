"""Render the main window to a PNG without a display (the README screenshot).

``QT_QPA_PLATFORM=offscreen python -m rmt_gui.ui.screenshot OUT.png [MODEL] [--data DIR]``
opens MODEL (default: the bundled model), waits for the spectra, prunes once with the paper's
rule, evaluates both steps when MNIST is available, goes back to the opened step (so the first
layer's full spectrum shows, with both evaluations in the history) and saves the window.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from rmt_gui.ui.app import application, default_model
from rmt_gui.ui.document_view import DocumentView
from rmt_gui.ui.main_window import MainWindow
from rmt_gui.ui.settings import AppSettings, ini_settings

SIZE = (1600, 960)


def wait_until(condition: Callable[[], bool], timeout_s: float = 300.0) -> None:
    """Run the event loop until ``condition()`` holds; ``TimeoutError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: loop.quit() if condition() else None)
    timer.start()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not reach the expected state in time")
        QTimer.singleShot(1000, loop.quit)
        loop.exec()
    timer.stop()


def _evaluate(view: DocumentView) -> None:
    """Evaluate the current step and wait for its result."""
    step = view.document.history.current
    view.tasks.evaluate()
    wait_until(lambda: step.evaluation is not None)


def capture(model: Path, out: Path, data: Path | None = None) -> Path:
    """Open ``model`` in a fresh window (temporary settings) and save a screenshot to ``out``."""
    application()
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(ini_settings(Path(tmp) / "settings.ini"))
        if data is not None:
            settings.set_data_folder(data)
        window = MainWindow(settings, None, [model])
        window.resize(*SIZE)
        window.show()
        window.start()
        wait_until(lambda: window.current_view() is not None)
        view = window.current_view()
        wait_until(lambda: view.document.analysis().complete and view.preview is not None)
        can_run = data is not None and not view.document.not_runnable
        if can_run:
            _evaluate(view)
        view.apply_pruning()
        wait_until(lambda: view.document.history.cursor == 1)
        wait_until(lambda: view.document.analysis().complete and view.preview is not None)
        if can_run:
            _evaluate(view)
        view.jump(0)
        wait_until(lambda: view.document.analysis().complete and view.preview is not None)
        view.table.select_layer(view.document.reports()[0].name)
        QApplication.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out))
        view.document.mark_saved()
        window.close()
    return out


def main() -> None:
    """Command-line entry: ``OUT.png [MODEL] [--data DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("model", type=Path, nargs="?", default=default_model())
    parser.add_argument("--data", type=Path, help="MNIST root, to show evaluations")
    args = parser.parse_args()
    if args.model is None:
        parser.error("no model given and resources/default_model.pt does not exist")
    print(capture(args.model, args.out, args.data))


if __name__ == "__main__":
    main()
