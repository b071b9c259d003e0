"""Regenerate the README's screenshots from the current app, without a display.

``QT_QPA_PLATFORM=offscreen python scripts/readme_screenshots.py --data DIR [--epochs N]``
writes ``resources/screenshot.png`` (the explorer: :mod:`rmt_gui.ui.screenshot`) and
``resources/screenshot_training.png`` (the Train tab after a run with the paper's settings and
its unpruned baseline on MNIST, ``N`` epochs if given, the comparison table shown).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

from rmt_gui.ui.app import application, default_model
from rmt_gui.ui.main_window import MainWindow
from rmt_gui.ui.screenshot import capture, wait_until
from rmt_gui.ui.settings import AppSettings, ini_settings

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
TRAINING_SIZE = (1600, 1000)
TRAINING_TIMEOUT_S = 1800.0


def capture_training(model: Path, out: Path, data: Path, epochs: int | None = None) -> Path:
    """Train with the paper's settings (``epochs`` epochs if given) and the baseline in a fresh
    window with ``model`` open; save the window with the comparison table to ``out``."""
    application()
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(ini_settings(Path(tmp) / "settings.ini"))
        settings.set_data_folder(data)
        window = MainWindow(settings, None, [model])
        window.resize(*TRAINING_SIZE)
        window.show()
        window.start()
        wait_until(lambda: window.current_view() is not None)
        panel = window.training.show()
        panel.form.reset()
        if epochs is not None:
            panel.form.epochs.setValue(epochs)
        panel.form.compare.setChecked(True)
        panel.form.out_folder.setText(str(Path(tmp) / "runs"))
        panel.start()
        wait_until(lambda: panel.running, TRAINING_TIMEOUT_S)
        wait_until(lambda: not panel.running, TRAINING_TIMEOUT_S)
        wait_until(lambda: len(window.views()) == 1 + len(panel.session.runs))
        window.tabs.setCurrentWidget(panel)
        panel.bottom.setCurrentWidget(panel.table)
        QApplication.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out))
        window.close()
    return out


def main() -> None:
    """Command-line entry: both screenshots into ``resources/`` (or ``--out``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="MNIST root (torchvision layout)")
    parser.add_argument("--epochs", type=int, help="epochs of the run (default: the paper's)")
    parser.add_argument("--out", type=Path, default=RESOURCES, help="folder for the images")
    parser.add_argument("--only", choices=("explorer", "training"), help="make just one image")
    args = parser.parse_args()
    model = default_model()
    if model is None:
        parser.error("resources/default_model.pt does not exist")
    if args.only != "training":
        print(capture(model, args.out / "screenshot.png", args.data))
    if args.only != "explorer":
        print(capture_training(model, args.out / "screenshot_training.png", args.data, args.epochs))


if __name__ == "__main__":
    main()
