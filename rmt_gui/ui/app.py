"""Start the desktop app: the window is shown first, heavy imports and loading follow in workers.

One app runs per user (and settings store): a later launch hands its files to it and exits
(see :mod:`rmt_gui.ui.single_instance`), unless it asks for a new window. Such a launch needs
only QtCore and QtNetwork: the widget modules (and pyqtgraph) load once a window is made.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from rmt_gui.state.save_folder import RESOURCES
from rmt_gui.ui.settings import AppSettings, user_settings
from rmt_gui.ui.single_instance import InstanceServer, hand_over, server_name

DEFAULT_MODEL = RESOURCES / "default_model.pt"


def default_model() -> Path | None:
    """The bundled model a first-time user sees, if this installation ships it."""
    return DEFAULT_MODEL if DEFAULT_MODEL.is_file() else None


def application() -> QApplication:
    """The process's QApplication with the app's names and style; garbage is collected on
    the UI thread only (:class:`UiCollector`); the wheel changes only focused settings
    (:mod:`rmt_gui.ui.wheel_guard`). Widget modules load only now (see :func:`main`)."""
    from rmt_gui.ui import theme, wheel_guard
    from rmt_gui.ui.collector import UiCollector

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "rmt-gui"])
    app.setApplicationName("rmt-gui")
    app.setOrganizationName("rmt-gui")
    app.setStyle("Fusion")
    theme.configure_pyqtgraph()
    if app.findChild(UiCollector) is None:
        UiCollector(app)
    wheel_guard.install(app)
    return app


def main(files: Sequence[str | Path] = (), new_window: bool = False) -> int:
    """Open ``files`` in the running app if there is one (not with ``new_window``); else show
    the window, open them (or the default model) and run until it closes."""
    settings = AppSettings(user_settings())
    paths = [Path(f) for f in files]
    name = server_name(settings.location())
    found = "busy" if new_window else hand_over(name, paths)
    if found == "opened":
        return 0
    return run_window(settings, paths, name if found == "absent" else None)


def run_window(settings: AppSettings, paths: list[Path], name: str | None) -> int:
    """Show the window (listening on ``name`` for later launches, if given) until it closes."""
    from rmt_gui.ui.main_window import MainWindow

    app = application()
    window = MainWindow(settings, default_model(), paths)
    server = InstanceServer(window)
    if name is not None and server.listen(name):
        server.filesReceived.connect(window.receive)
    window.show()
    QTimer.singleShot(0, window.start)
    try:
        return app.exec()
    finally:
        server.close()
