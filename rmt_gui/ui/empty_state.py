"""What the window shows with no file open: how to open one, and the recent files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class EmptyState(QWidget):
    """A centred hint with an Open button and the recent files."""

    openRequested = Signal()
    recentChosen = Signal(Path)
    trainRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h2>Open a checkpoint</h2>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "File › Open (Ctrl+O), or drop one or more model files on this window.<br>"
            "PyTorch checkpoints and state dicts, this app's .pt files, TorchScript, "
            "safetensors, .npy and .npz."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setStyleSheet("color: #555;")
        self.open_button = QPushButton("Open a checkpoint…")
        self.open_button.setMinimumWidth(220)
        self.open_button.clicked.connect(self.openRequested.emit)
        self.train_button = QPushButton("Train a network on MNIST…")
        self.train_button.setToolTip("Train with RMT pruning and watch every spectrum (Ctrl+T)")
        self.train_button.setMinimumWidth(220)
        self.train_button.clicked.connect(self.trainRequested.emit)
        self.recent = QListWidget()
        self.recent.setMaximumWidth(640)
        self.recent.setMaximumHeight(200)
        self.recent.itemActivated.connect(
            lambda item: self.recentChosen.emit(Path(item.data(Qt.ItemDataRole.UserRole)))
        )
        self.recent_title = QLabel("<b>Recent files</b>")
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(12)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.train_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addSpacing(18)
        layout.addWidget(self.recent_title, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.recent, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(3)

    def set_recent(self, paths: list[Path]) -> None:
        """List the recent files (hidden when there are none)."""
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(f"{path.name}    {path.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.recent.addItem(item)
        self.recent.setVisible(bool(paths))
        self.recent_title.setVisible(bool(paths))
