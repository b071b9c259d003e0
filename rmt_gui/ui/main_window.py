"""The main window: one tab per open file, menus and shortcuts, status bar, drag-and-drop.

The window holds the :class:`~rmt_gui.state.workspace.Workspace` and subscribes to it and to
each document: the status bar shows the current tab's messages (a document's, the Train
tab's, or window-wide ones where no file is open), an information line for
:data:`~rmt_gui.state.events.INFO_SECONDS` once shown, an error until its owner's next action;
the tab titles and menus follow each document's state. A file that cannot be opened
keeps its tab, with the one-line reason there (never a dialog per file); files that hold a
pickled object ask for trust one at a time, in the order they were opened.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QToolButton,
    QWidget,
)

from rmt_gui.state.document import Document
from rmt_gui.state.events import Status
from rmt_gui.state.settings_schema import ViewSettings
from rmt_gui.state.tab_titles import is_run_folder, is_run_model, tab_title
from rmt_gui.state.workspace import Workspace
from rmt_gui.ui import dialogs, theme
from rmt_gui.ui.collector import settle_new_objects
from rmt_gui.ui.data_source import DataSource
from rmt_gui.ui.document_view import DocumentView
from rmt_gui.ui.empty_state import EmptyState
from rmt_gui.ui.settings import AppSettings
from rmt_gui.ui.steady_tabs import SteadyTabWidget
from rmt_gui.ui.train_host import TrainHost
from rmt_gui.ui.trust_questions import TrustQuestions

if TYPE_CHECKING:
    from rmt_gui.ui.compare_view import CompareView
    from rmt_gui.ui.replay_view import ReplayView


class StatusOwner(Protocol):
    """Whatever posts status lines: a document, the workspace, the Train tab."""

    status: Status

    def post_status(self, text: str, error: bool = False) -> None: ...


RECENT_DELAY_MS = 500
"""How long after a file opens it is written to the recent files (see ``_opened``)."""
SHORTCUTS = (
    ("Open", "Ctrl+O"), ("Export model", "Ctrl+E"), ("Export report", "Ctrl+Shift+E"),
    ("Save plot image", "Ctrl+Shift+S"), ("Undo / redo", "Ctrl+Z / Ctrl+Shift+Z"),
    ("Apply pruning", "Ctrl+Return"), ("Evaluate", "Ctrl+R"), ("Rank sweep", "Ctrl+Shift+R"),
    ("Spectrum / all layers / heat map / sweep", "Ctrl+1 / Ctrl+2 / Ctrl+3 / Ctrl+4"),
    ("Log axis", "Ctrl+L"), ("Open folder", "Ctrl+Shift+O"),
    ("Close tab", "Ctrl+W"), ("Layers", "arrow keys in the table"),
    ("Train panel", "Ctrl+T"), ("Start / stop training", "F5 / Shift+F5"),
    ("Pause / resume training", "F6"),
)  # fmt: skip


class MainWindow(QMainWindow):
    """Open files as tabs (each a :class:`DocumentView`), plus the Train tab when asked for."""

    def __init__(
        self, settings: AppSettings, default_model: Path | None = None, files: list[Path] = ()
    ) -> None:
        super().__init__()
        self.settings = settings
        self.pending = [Path(f) for f in files] or ([default_model] if default_model else [])
        self.opener = QTimer(self)
        self.opener.setSingleShot(True)
        self.opener.timeout.connect(self._open_next)
        self.workspace = Workspace()
        self.trust_questions = TrustQuestions(
            self, self.views, self.workspace.post_status, self.show_current_status
        )
        self.workspace.status_changed.connect(lambda _status: self._workspace_status())
        self.workspace.document_added.connect(self._subscribe)
        self.training = TrainHost(self)
        self.data = DataSource(settings, self)
        self.data.status.connect(self.workspace.post_status)
        self.data.busy.connect(self.show_busy)
        self.setWindowTitle("rmt-gui — RMT spectra and pruning")
        self.setAcceptDrops(True)
        self.tabs = SteadyTabWidget()
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(lambda _i: self._tab_changed())
        self.empty = EmptyState()
        self.empty.openRequested.connect(self.open_dialog)
        self.empty.recentChosen.connect(lambda path: self.open_paths([path]))
        self.empty.trainRequested.connect(self.training.show)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)
        self._build_status_bar()
        self._build_menus()
        self.resize(1500, 900)
        geometry = settings.bytes("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self._refresh_recent()
        self.update_actions()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.message = QLabel("Ready")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_background)
        self.recent_pending: list[Path] = []
        self.recent_timer = QTimer(self)
        self.recent_timer.setSingleShot(True)
        self.recent_timer.setInterval(RECENT_DELAY_MS)
        self.recent_timer.timeout.connect(self._remember_recent)
        self.expiry = QTimer(self)
        self.expiry.setSingleShot(True)
        self.expiry.timeout.connect(self._expire_status)
        self.expiring: tuple[StatusOwner, Status] | None = None
        bar.addWidget(self.message, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)

    def _action(self, menu, text: str, slot, shortcut: str | QKeySequence | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self._action(file, "Open &folder…", self.open_folder_dialog, "Ctrl+Shift+O")
        compare = self._action(file, "&Compare with…", self._on_view(self.compare_dialog))
        self._action(file, "Re&play training run…", self.replay_dialog)
        self.recent_menu = file.addMenu("Open &Recent")
        file.addSeparator()
        self.compare_views: list[QWidget] = []
        export = self._on_view(lambda v: v.tasks.export_model())
        report = self._on_view(lambda v: v.tasks.export_report())
        plot = self._on_view(lambda v: v.tasks.save_plot())
        view_actions = [
            compare,
            self._action(file, "&Export model…", export, "Ctrl+E"),
            self._action(file, "Export &report…", report, "Ctrl+Shift+E"),
            self._action(file, "&Save plot image…", plot, "Ctrl+Shift+S"),
        ]
        file.addSeparator()
        self._action(file, "MNIST &data folder…", self.choose_data_folder)
        file.addSeparator()
        view_actions.append(self._action(file, "&Close tab", self._close_current, "Ctrl+W"))
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self._on_view(DocumentView.undo), "Ctrl+Z")
        self.redo_action = self._action(
            edit, "&Redo", self._on_view(DocumentView.redo), "Ctrl+Shift+Z"
        )
        model = bar.addMenu("&Model")
        evaluate = self._on_view(lambda v: v.tasks.evaluate())
        sweep = self._on_view(lambda v: v.tasks.sweep())
        view_actions += [
            self._action(model, "&Apply pruning", self._on_view(DocumentView.apply_pruning),
                         "Ctrl+Return"),
            self._action(model, "&Evaluate", evaluate, "Ctrl+R"),
            self._action(model, "Rank &sweep", sweep, "Ctrl+Shift+R"),
        ]  # fmt: skip
        self._action(model, "&Cancel background work", self.cancel_background, "Ctrl+.")
        view = bar.addMenu("&View")
        for index, name in enumerate(("&Spectrum", "&All layers", "&Heat map", "Rank s&weep")):
            switch = self._on_view(lambda v, i=index: v.views.setCurrentIndex(i))
            view_actions.append(self._action(view, name, switch, f"Ctrl+{index + 1}"))
        view_actions.append(
            self._action(
                view, "&Log axis", self._on_view(lambda v: v.spectrum.log_box.toggle()), "Ctrl+L"
            )
        )
        self.training.add_menu(bar.addMenu("&Train"))
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts)
        self._action(help_menu, "&About", self.show_about)
        self.view_actions = view_actions

    # -- tabs -------------------------------------------------------------------------------

    def views(self) -> list[DocumentView]:
        """Every open document view, in tab order (other tabs, such as a Train panel, skipped)."""
        tabs = (self.tabs.widget(i) for i in range(self.tabs.count()))
        return [tab for tab in tabs if isinstance(tab, DocumentView)]

    def current_view(self) -> DocumentView | None:
        """The view of the current tab once its file is open."""
        view = self.tabs.currentWidget()
        return view if isinstance(view, DocumentView) and view.document is not None else None

    def _on_view(self, call: Callable[[DocumentView], object]) -> Callable[..., None]:
        """A slot that applies ``call`` to the current view, if a file is open."""

        def slot(*_args: object) -> None:
            view = self.current_view()
            if view is not None:
                call(view)

        return slot

    def update_actions(self) -> None:
        view = self.tabs.currentWidget()
        doc = view.document if isinstance(view, DocumentView) else None
        for action in self.view_actions:
            action.setEnabled(doc is not None)
        self.undo_action.setEnabled(doc is not None and doc.history.can_undo)
        self.redo_action.setEnabled(doc is not None and doc.history.can_redo)
        self.stack.setCurrentIndex(1 if self.tabs.count() else 0)
        views = self.views()
        names = [tab_title(tab.path) for tab in views]
        for tab in views:
            dirty = tab.document is not None and tab.document.dirty
            title = tab_title(tab.path)
            if names.count(title) > 1:
                title = f"{tab.path.parent.name}/{title}"
            mark = "● " if dirty else "⚠ " if tab.failure else ""
            index = self.tabs.indexOf(tab)
            self.tabs.setTabText(index, mark + title)
            self.tabs.setTabToolTip(index, tab.failure or str(tab.path))
        self.training.update_actions()

    def start(self) -> None:
        """Open the files given at launch (or the default model) once the window is up: the
        first now, the others one per event-loop turn (the window repaints in between)."""
        self._open_next()

    def receive(self, paths: list[Path]) -> None:
        """Files handed over by a later launch: bring the window to the front and open them."""
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()
        self.pending += paths
        if not self.opener.isActive():
            self.opener.start()

    def _open_next(self) -> None:
        """Open the next waiting file; come back on the next event-loop turn for the rest."""
        if self.pending:
            self.open_paths([self.pending.pop(0)])
        if self.pending:
            self.opener.start()

    def open_dialog(self) -> None:
        """File › Open: one or more files."""
        start = str(self.settings.recent_files()[0].parent) if self.settings.recent_files() else ""
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open model files", start, dialogs.OPEN_FILTER
        )
        if paths:
            self.open_paths([Path(p) for p in paths])

    def open_folder_dialog(self) -> None:
        """File › Open folder: a Hugging Face model folder or a PEFT adapter, as one tab."""
        recent = self.settings.recent_files()
        start = str(recent[0].parent) if recent else ""
        folder = QFileDialog.getExistingDirectory(self, "Open a model or adapter folder", start)
        if folder:
            self.open_paths([Path(folder)])

    def compare_dialog(self, view: DocumentView) -> None:
        """File › Compare with: pick a second checkpoint (a folder, when this tab is one)."""
        start = str(view.path.parent)
        title = f"Compare {view.path.name} with…"
        if view.path.is_dir():
            other = QFileDialog.getExistingDirectory(self, title, start)
        else:
            other, _ = QFileDialog.getOpenFileName(self, title, start, dialogs.OPEN_FILTER)
        if other:
            self.compare(view.path, Path(other))

    def compare(self, path_a: Path, path_b: Path) -> CompareView:
        """Open a window comparing ``path_b`` against ``path_a`` (as stored on disk)."""
        from rmt_gui.ui.compare_view import CompareView

        window = CompareView(path_a, path_b, self)
        self._keep_window(window)
        window.start()
        return window

    def replay_dialog(self) -> None:
        """File › Replay training run: pick a run folder (``rmt-gui train --out``)."""
        folder = QFileDialog.getExistingDirectory(self, "Replay a training run folder")
        if folder:
            self.replay(Path(folder))

    def replay(self, folder: Path) -> ReplayView | None:
        """Open a window replaying the run in ``folder`` (a bad folder: one status line)."""
        from rmt_gui.errors import RmtGuiError
        from rmt_gui.state.replay import read_run
        from rmt_gui.ui.replay_view import ReplayView

        try:
            run = read_run(folder)
        except RmtGuiError as exc:
            self.workspace.post_status(f"Cannot replay {exc}", True)
            return None
        window = ReplayView(run, self)
        self._keep_window(window)
        return window

    def _keep_window(self, window: QWidget) -> None:
        """Show a compare or replay window and keep it until it is closed."""
        self.compare_views.append(window)
        window.destroyed.connect(lambda _o=None, w=window: self._window_closed(w))
        window.show()

    def _window_closed(self, window: QWidget) -> None:
        if window in self.compare_views:
            self.compare_views.remove(window)

    def open_paths(self, paths: list[Path], trust: bool = False, focus: bool = True) -> None:
        """Open each file in its own tab (or switch to it if it is already open).

        ``focus=False`` opens in the background (a finished training run, while the Train tab
        stays in front).
        """
        opened = []
        for given in paths:
            path = Path(given).expanduser()
            if is_run_folder(path):
                self.replay(path)
                continue
            existing = next((v for v in self.views() if v.path.resolve() == path.resolve()), None)
            if existing is not None and not trust:
                if focus:
                    self.tabs.setCurrentWidget(existing)
                if existing.failure:
                    existing.start()
                continue
            opened.append(self._open_one(path, trust, focus))
        self.trust_questions.opened_together(opened)
        if opened:
            settle_new_objects()

    def _open_one(self, path: Path, trust: bool, focus: bool = True) -> DocumentView:
        view = DocumentView(path, self.settings.view(), self.data, self.workspace, trust=trust)
        for key, splitter in (("splitter", view.splitter), ("left_splitter", view.left)):
            state = self.settings.bytes(key)
            if state is not None:
                splitter.restoreState(state)
        view.opening.connect(lambda text: self._opening(view, text))
        view.opened.connect(self._opened)
        view.openFailed.connect(lambda _path, _line: self._open_failed(view))
        view.trustNeeded.connect(lambda needs: self.trust_questions.need(view, needs))
        self.tabs.addTab(view, path.name)
        if focus:
            self.tabs.setCurrentWidget(view)
        self.update_actions()
        view.start()
        return view

    def _opened(self, path: Path) -> None:
        """A file opened: its actions, the next trust question, and (a moment later) the recent
        files. Writing the settings file is disk I/O on this thread (21 ms measured), which
        would otherwise add to the frame that shows the new tab."""
        if not is_run_model(path):
            self.recent_pending.append(path)
            self.recent_timer.start()
        self.update_actions()
        self.trust_questions.ask_next()

    def _remember_recent(self) -> None:
        """Put the files opened since the last call first in the recent files, in order."""
        opened, self.recent_pending = self.recent_pending, []
        for path in opened:
            self.settings.add_recent(path)
        if opened:
            self._refresh_recent()

    def _subscribe(self, doc: Document) -> None:
        """Follow a newly opened document: its messages, progress, state and unsaved mark."""
        doc.status_changed.connect(lambda _s: self._document_status(doc))
        doc.busy_changed.connect(lambda _b: self._document_status(doc))
        doc.state_changed.connect(lambda _e: self.update_actions())
        doc.saved_changed.connect(lambda _d: self.update_actions())

    def _opening(self, view: DocumentView, text: str) -> None:
        """A file is being opened (before it has a document): its progress, if in front."""
        if self.tabs.currentWidget() is view:
            self.show_busy(text, 0, 0)

    def _document_status(self, doc: Document) -> None:
        """A document's message or progress changed: shown only while its tab is current."""
        current = self.current_view()
        if current is not None and current.document is doc:
            self.show_current_status()

    def _tab_changed(self) -> None:
        self.update_actions()
        self.show_current_status()

    def _on_train_tab(self) -> bool:
        panel = self.training.panel
        return panel is not None and self.tabs.currentWidget() is panel

    def show_current_status(self) -> None:
        """The status bar of the current tab: its document's last message and progress, the
        Train tab's own messages, the reason a file could not be opened, else the window-wide
        line (with the progress of a file still opening there)."""
        view, tab = self.current_view(), self.tabs.currentWidget()
        if view is None and isinstance(tab, DocumentView) and tab.failure:
            self._show_failure(tab)
            return
        if view is None:
            self._show_owned(self.training if self._on_train_tab() else self.workspace)
            self.show_busy(tab.opening_text if isinstance(tab, DocumentView) else "", 0, 0)
            return
        doc = view.document
        self._show_owned(doc)
        self.show_busy(doc.busy.text, doc.busy.done, doc.busy.total)

    def _workspace_status(self) -> None:
        """A window-wide message: shown at once, except over the Train tab's own messages."""
        if not self._on_train_tab():
            self._show_owned(self.workspace)

    def _show_owned(self, owner: StatusOwner) -> None:
        """Show ``owner``'s line; an information line expires :attr:`Status.lifetime` after
        it was first shown (showing it again, on a progress update, keeps that time)."""
        status = owner.status
        self.show_status(status.text or "Ready", status.error)
        if self.expiring is not None and self.expiring[1] is status and self.expiry.isActive():
            return
        self.expiry.stop()
        self.expiring = None
        if status.lifetime is not None:
            self.expiring = (owner, status)
            self.expiry.start(round(1000 * status.lifetime))

    def _expire_status(self) -> None:
        """The shown information line has had its time: its owner's line is cleared (unless
        a newer one replaced it meanwhile)."""
        if self.expiring is not None:
            owner, status = self.expiring
            self.expiring = None
            if owner.status is status:
                owner.post_status("")
                self.show_current_status()

    def _remove(self, view: DocumentView) -> None:
        view.shutdown()
        self.tabs.removeTab(self.tabs.indexOf(view))
        view.deleteLater()
        self.update_actions()
        self.trust_questions.forget(view)

    def _show_failure(self, view: DocumentView) -> None:
        """The status bar of a tab whose file could not be opened: its own reason, in red."""
        self.expiry.stop()
        self.expiring = None
        self.show_busy("", 0, 0)
        self.show_status(view.failure, True)

    def _open_failed(self, view: DocumentView) -> None:
        """A file could not be opened: its tab is marked and says why (in the status bar too
        while it is in front); other tabs keep their own lines and progress."""
        self.update_actions()
        if self.tabs.currentWidget() is view:
            self.show_current_status()
        self.trust_questions.ask_next()

    def close_tab(self, index: int) -> None:
        """Close a tab, asking first if it has unsaved pruning or a training run."""
        view = self.tabs.widget(index)
        if isinstance(view, DocumentView) and self._confirm([view]):
            self._remove(view)
        elif view is not None and view is self.training.panel:
            self.training.close_tab()

    def _close_current(self) -> None:
        if self.tabs.count():
            self.close_tab(self.tabs.currentIndex())

    def _confirm(self, views: list[DocumentView]) -> bool:
        """True when nothing unsaved would be lost (or the user chose to discard it)."""
        dirty = [v for v in views if v.document is not None and v.document.dirty]
        if not dirty:
            return True
        answer = dialogs.confirm_discard(self, [v.path.name for v in dirty])
        if answer == "export":
            self.tabs.setCurrentWidget(dirty[0])
            dirty[0].tasks.export_model()
        return answer == "discard"

    # -- status, settings, misc -------------------------------------------------------------

    def show_status(self, text: str, error: bool = False) -> None:
        """One line in the status bar; errors in red."""
        self.message.setText(text)
        self.message.setToolTip(text)
        self.message.setStyleSheet(f"color: {theme.ERROR_TEXT};" if error else "")

    def show_busy(self, text: str, done: int, total: int) -> None:
        """Progress of background work (``text == ""`` hides the bar)."""
        busy = bool(text)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"{done} / {total}" if total else "")
            self.show_status(text)

    def cancel_background(self) -> None:
        view = self.tabs.currentWidget()
        self.data.runner.cancel_all()
        self.show_busy("", 0, 0)
        if isinstance(view, DocumentView):
            view.cancel_background()
        if self.current_view() is None:
            self.workspace.post_status("Cancelled")

    def choose_data_folder(self) -> None:
        self.data.choose(self)

    def _refresh_recent(self) -> None:
        recent = self.settings.recent_files()
        self.recent_menu.clear()
        for path in recent:
            self.recent_menu.addAction(str(path), lambda p=path: self.open_paths([p]))
        self.recent_menu.setEnabled(bool(recent))
        self.empty.set_recent(recent)

    def show_shortcuts(self) -> None:
        rows = "".join(
            f"<tr><td>{what}</td><td><b>{keys}</b></td></tr>" for what, keys in SHORTCUTS
        )
        box = QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts",
                          f"<table cellspacing=6>{rows}</table>", parent=self)  # fmt: skip
        box.open()

    def show_about(self) -> None:
        QMessageBox.about(
            self, "About rmt-gui",
            "<b>rmt-gui</b>: random-matrix-theory spectra (Marchenko–Pastur, BEMA) of fully "
            "connected layers, SVD pruning, evaluation and export.",
        )  # fmt: skip

    def save_settings(self) -> None:
        """Persist geometry, splitters, the current tab's options and the recent files."""
        self._remember_recent()
        self.settings.set_bytes("geometry", self.saveGeometry())
        view = self.tabs.currentWidget()
        if isinstance(view, DocumentView):
            self.settings.set_bytes("splitter", view.splitter.saveState())
            self.settings.set_bytes("left_splitter", view.left.saveState())
            points, log = view.sweep_options()
            self.settings.set_view(ViewSettings(
                plot=view.spectrum.options, prune=view.prune.options(),
                eval_count=view.history.count.value(), sweep_points=points, sweep_log=log,
            ))  # fmt: skip
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._confirm(self.views()) or not self.training.stop():
            event.ignore()
            return
        self.save_settings()
        for window in list(self.compare_views):
            window.close()
        for view in self.views():
            view.shutdown()
        self.data.runner.cancel_all()
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)
