"""The Train tab's place in the main window: its menu, made on first use, stopped on close.

The panel's modules (and the training engine's) load only when the tab is first shown, so the
window still opens without torch. Closing the tab or the window while a run goes on asks first,
then stops the run through the engine's cancel token and waits for its worker process (with a
timeout, after which the worker is killed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from rmt_gui.state.events import Status
from rmt_gui.ui import dialogs
from rmt_gui.ui.collector import settle_new_objects

if TYPE_CHECKING:
    from rmt_gui.ui.main_window import MainWindow
    from rmt_gui.ui.train_panel import TrainPanel

STOP_TIMEOUT_S = 30.0
IDLE_ONLY = ("start", "choose_resume")
MENU = (
    ("start", "&Start training", "F5"),
    ("choose_resume", "&Resume a run…", "Ctrl+F5"),
    ("toggle_pause", "&Pause / resume training", "F6"),
    ("stop", "S&top training", "Shift+F5"),
)


class TrainHost(QObject):
    """Creates, shows and shuts down the main window's Train panel."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.panel: TrainPanel | None = None
        self.actions: dict[str, QAction] = {}
        self.status = Status("")

    def add_menu(self, menu: QMenu) -> None:
        """Fill the Train menu: show the panel, start, resume a run folder, pause/resume, stop."""
        show = QAction("Training &panel", self.window)
        show.setShortcut(QKeySequence("Ctrl+T"))
        show.triggered.connect(self.show)
        menu.addAction(show)
        for method, text, keys in MENU:
            action = QAction(text, self.window)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(self._slot(method))
            menu.addAction(action)
            self.actions[method] = action
        self.update_actions()

    def show(self) -> TrainPanel:
        """Show the Train tab, making it on first use."""
        window = self.window
        if self.panel is None:
            from rmt_gui.ui.train_panel import TrainPanel

            panel = TrainPanel(window.settings, window.data, self.models)
            panel.status.connect(self.post_status)
            panel.modelFinished.connect(lambda path: window.open_paths([path], focus=False))
            panel.stateChanged.connect(window.update_actions)
            self.panel = panel
            window.workspace.add_training(panel)
            window.tabs.insertTab(0, panel, "Train")
            settle_new_objects()
        window.tabs.setCurrentWidget(self.panel)
        window.update_actions()
        return self.panel

    def models(self) -> list[tuple[str, object]]:
        """Open models a run can start from: each tab's current step, when it can run."""
        tabs = self.window.tabs
        return [
            (tabs.tabText(tabs.indexOf(v)).removeprefix("● "), v.document.model)
            for v in self.window.views()
            if v.document is not None and not v.document.not_runnable
        ]

    def _slot(self, method: str) -> Callable[..., None]:
        """A slot calling the panel's ``method`` (the panel is shown first to start or resume)."""

        def slot(*_args: object) -> None:
            panel = self.show() if method in IDLE_ONLY else self.panel
            if panel is not None:
                getattr(panel, method)()

        return slot

    def post_status(self, text: str, error: bool = False) -> None:
        """A message of the Train tab: kept for it, shown while it is the current tab."""
        self.status = Status(text, error)
        if self.panel is not None and self.window.tabs.currentWidget() is self.panel:
            self.window.show_current_status()

    @property
    def running(self) -> bool:
        return self.panel is not None and self.panel.running

    def update_actions(self) -> None:
        """Start and resume only when idle; pause and stop only while a run goes on."""
        for method, action in self.actions.items():
            action.setEnabled(self.running != (method in IDLE_ONLY))

    def stop(self) -> bool:
        """Ask before stopping a run, then stop it and its worker process; False: keep it."""
        panel = self.panel
        if panel is None:
            return True
        if panel.running:
            if not dialogs.confirm_stop_training(self.window):
                return False
            self.post_status("Stopping the training run…")
        if not panel.shutdown(STOP_TIMEOUT_S):
            self.post_status("The training worker did not stop in time and was ended", True)
        self.window.settings.set_train(panel.options())
        return True

    def close_tab(self) -> None:
        """The Train tab's close button: stop (if the user agrees) and remove the panel."""
        panel = self.panel
        if panel is None or not self.stop():
            return
        tabs = self.window.tabs
        tabs.removeTab(tabs.indexOf(panel))
        self.window.workspace.remove_training(panel)
        panel.deleteLater()
        self.panel = None
        self.window.update_actions()
