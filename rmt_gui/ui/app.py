"""Start the desktop app: the window is shown first, heavy imports and loading follow in workers."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from rmt_gui.ui import theme
from rmt_gui.ui.collector import UiCollector
from rmt_gui.ui.main_window import MainWindow
from rmt_gui.ui.settings import AppSettings, user_settings

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "resources" / "default_model.pt"


def default_model() -> Path | None:
    """The bundled model a first-time user sees, if this installation ships it."""
    return DEFAULT_MODEL if DEFAULT_MODEL.is_file() else None


def application() -> QApplication:
    """The process's QApplication with the app's names and style; garbage is collected on
    the UI thread only (:class:`UiCollector`)."""
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "rmt-gui"])
    app.setApplicationName("rmt-gui")
    app.setOrganizationName("rmt-gui")
    app.setStyle("Fusion")
    theme.configure_pyqtgraph()
    if app.findChild(UiCollector) is None:
        UiCollector(app)
    return app


def main(files: Sequence[str | Path] = ()) -> int:
    """Show the window, then open ``files`` (or the default model); run until it closes."""
    app = application()
    window = MainWindow(AppSettings(user_settings()), default_model(), [Path(f) for f in files])
    window.show()
    QTimer.singleShot(0, window.start)
    return app.exec()
