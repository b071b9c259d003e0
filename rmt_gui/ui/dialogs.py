"""Dialogs: errors, trust for pickled files, missing data, export targets, unsaved work."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.model.export_formats import FORMAT_FILES

EXPORT_FILTERS = {
    f"{label} (*{suffix})": (fmt, suffix) for fmt, (label, suffix) in FORMAT_FILES.items()
}
"""File dialog filter -> (export format, default suffix), one per format the core writes."""
SHOWN_CALLS = 8
OPEN_FILTER = (
    "Model files (*.pt *.pth *.ckpt *.bin *.safetensors *.ts *.jit *.onnx *.npy *.npz);;"
    "All files (*)"
)
TRUST_TEXT = (
    "<p><b>{name}</b> contains a pickled Python object, not just weights.</p>"
    "{calls}"
    "<p>Loading it runs code stored in the file. A malicious file can do anything your user "
    "account can: read or delete files, install software, send data away.</p>"
    "<p>Only continue if you made this file or trust where it came from.</p>"
)


def show_error(parent: QWidget, title: str, text: str) -> QMessageBox:
    """A non-blocking error box (the event loop, and tests, keep running)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    box.open()
    return box


def calls_text(names: Sequence[str]) -> str:
    """The globals a pickle would import and call, as a short HTML list (empty: none known)."""
    if not names:
        return "<p>What it would import could not be read without running it.</p>"
    shown = "".join(f"<li><code>{html.escape(name)}</code></li>" for name in names[:SHOWN_CALLS])
    more = len(names) - SHOWN_CALLS
    extra = f"<li>and {more} more</li>" if more > 0 else ""
    return f"<p>Loading it would import and call:</p><ul>{shown}{extra}</ul>"


def ask_trust(
    parent: QWidget, path: Path, on_trust: Callable[[], None], names: Sequence[str] = ()
) -> QMessageBox:
    """Explain the risk of unpickling ``path``, naming the ``names`` it would import and call;
    ``on_trust`` runs only if the user agrees (the file is then unpickled in a worker)."""
    box = QMessageBox(parent)
    box.setObjectName("trustBox")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Run code from this file?")
    box.setText(TRUST_TEXT.format(name=html.escape(path.name), calls=calls_text(names)))
    box.setInformativeText(str(path))
    trust = box.addButton("Open and run its code", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.finished.connect(lambda _result: on_trust() if box.clickedButton() is trust else None)
    box.open()
    return box


class DataMissingDialog(QDialog):
    """MNIST is not where the app looks: choose a folder or download it."""

    folderChosen = Signal(Path)
    downloadRequested = Signal(Path)

    def __init__(self, root: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataMissing")
        self.setWindowTitle("MNIST data not found")
        self.root = root
        text = QLabel(
            f"<p>Evaluation, the rank sweep and training need MNIST, which was not found "
            f"in<br><code>{root}</code><br>(expected <code>MNIST/raw/</code> with the four "
            f"idx files).</p><p>Spectra, pruning and export keep working without it.</p>"
        )
        text.setWordWrap(True)
        self.choose_button = QPushButton("Choose folder…")
        self.download_button = QPushButton("Download MNIST (~12 MB)")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.choose_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.download_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.choose_button.clicked.connect(self._choose)
        self.download_button.clicked.connect(self._download)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)

    def _choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder holding MNIST/raw", str(self.root))
        if folder:
            self.accept()
            self.folderChosen.emit(Path(folder))

    def _download(self) -> None:
        self.accept()
        self.downloadRequested.emit(self.root)


def ask_export_path(
    parent: QWidget, suggested: Path, default: str = "rmt-gui"
) -> tuple[Path, str] | None:
    """A target file and export format (``default`` preselected), or ``None`` if cancelled."""
    label = next(text for text, (fmt, _) in EXPORT_FILTERS.items() if fmt == default)
    path, chosen = QFileDialog.getSaveFileName(
        parent, "Export model", str(suggested.with_suffix(EXPORT_FILTERS[label][1])),
        ";;".join(EXPORT_FILTERS), label,
    )  # fmt: skip
    if not path:
        return None
    fmt, suffix = EXPORT_FILTERS.get(chosen, EXPORT_FILTERS[label])
    target = Path(path)
    return (target if target.suffix else target.with_suffix(suffix)), fmt


def confirm_discard(parent: QWidget, names: list[str]) -> str:
    """Ask before losing pruning steps: ``"export"``, ``"discard"`` or ``"cancel"``."""
    box = QMessageBox(parent)
    box.setObjectName("unsavedBox")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Unsaved pruning")
    listed = "".join(f"<li>{name}</li>" for name in names)
    box.setText(f"<p>These models have pruning steps that were not exported:</p><ul>{listed}</ul>")
    box.setInformativeText("Export them first, or discard the changes?")
    export = box.addButton("Export…", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    clicked = box.clickedButton()
    return "export" if clicked is export else "discard" if clicked is discard else "cancel"


def confirm_stop_training(parent: QWidget) -> bool:
    """Ask before stopping a training run (closing the window or the Train tab)."""
    box = QMessageBox(parent)
    box.setObjectName("stopTrainingBox")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Training is running")
    box.setText("<p>A training run is still going.</p>")
    box.setInformativeText(
        "Stop it now? The partial model is saved as cancelled.pt in the run folder, with its "
        "metrics and per-epoch checkpoints."
    )
    stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Keep training", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(stop)
    box.exec()
    return box.clickedButton() is stop
