"""Where the MNIST test set is, and what to do when it is missing (choose a folder, download)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from rmt_gui.ui.dialogs import DataMissingDialog, show_error
from rmt_gui.ui.settings import AppSettings
from rmt_gui.ui.workers import Runner


class DataSource(QObject):
    """The app's MNIST folder: from the settings, else ``$RMT_GUI_DATA``, else the cache folder."""

    status = Signal(str, bool)
    busy = Signal(str, int, int)

    def __init__(self, settings: AppSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.runner = Runner(self)
        self.dialog: DataMissingDialog | None = None

    def root(self) -> Path:
        """The folder evaluation reads MNIST from."""
        from rmt_gui.model.data import resolve_data_root

        return resolve_data_root(self.settings.data_folder())

    def available(self, folder: Path | None = None) -> bool:
        """Whether MNIST is in ``folder`` (default: :meth:`root`)."""
        from rmt_gui.model.data import has_mnist

        return has_mnist(folder or self.root())

    def set_root(self, folder: Path) -> None:
        """Use ``folder`` from now on (persisted)."""
        self.settings.set_data_folder(folder)
        self.status.emit(f"MNIST data folder: {folder}", False)

    def choose(self, parent: QWidget) -> Path | None:
        """Ask for the MNIST folder and use it (a warning when it holds no MNIST yet)."""
        root = str(self.root())
        folder = QFileDialog.getExistingDirectory(parent, "Folder holding MNIST/raw", root)
        if not folder:
            return None
        self.set_root(Path(folder))
        if not self.available():
            self.status.emit(f"{folder}: no MNIST/raw/ there yet", True)
        return Path(folder)

    def ensure(self, parent: QWidget, then: Callable[[Path], None]) -> None:
        """Call ``then(root)`` now if MNIST is there, else once the user fixed it."""
        root = self.root()
        if self.available(root):
            then(root)
            return
        self.dialog = DataMissingDialog(root, parent)
        self.dialog.folderChosen.connect(lambda folder: self._chosen(parent, folder, then))
        self.dialog.downloadRequested.connect(lambda folder: self._download(parent, folder, then))
        self.dialog.open()

    def _chosen(self, parent: QWidget, folder: Path, then: Callable[[Path], None]) -> None:
        if not self.available(folder):
            show_error(
                parent, "MNIST not found",
                f"{folder}: no MNIST/raw/ with the four idx files in this folder.",
            )  # fmt: skip
            return
        self.set_root(folder)
        then(folder)

    def _download(self, parent: QWidget, folder: Path, then: Callable[[Path], None]) -> None:
        from rmt_gui.jobs.evaluation import download_job

        def done(path: Path) -> None:
            self.busy.emit("", 0, 0)
            self.set_root(path)
            then(path)

        def failed(message: str) -> None:
            self.busy.emit("", 0, 0)
            self.status.emit(message, True)
            show_error(parent, "Download failed", message)

        self.busy.emit(f"Downloading MNIST into {folder}…", 0, 1)
        self.runner.start(
            "download", lambda token: download_job(folder, token), on_item=done, on_error=failed,
            on_cancel=lambda: self.busy.emit("", 0, 0),
        )  # fmt: skip
