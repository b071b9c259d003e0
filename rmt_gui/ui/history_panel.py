"""The undo history, each step with its parameter count and evaluation, plus Evaluate.

The panel subscribes to its document's events (:meth:`HistoryPanel.bind`) and redraws itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.ui import theme

if TYPE_CHECKING:
    from rmt_gui.state.document import Document

HEADERS = ("", "Step", "Parameters", "Accuracy", "Loss")
MNIST_TEST_SIZE = 10_000
EARLIER_SHOWN = 3


def _grey_label() -> QLabel:
    """A hidden, wrapping label in the greyed-out colour of undone steps."""
    label = QLabel("")
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.BULK_EDGE.name()};")
    label.hide()
    return label


class HistoryPanel(QWidget):
    """Steps of the model history; double-click (or Enter) a step to go back to it."""

    jumpRequested = Signal(int)
    undoRequested = Signal()
    redoRequested = Signal()
    evaluateRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, eval_count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(HEADERS)
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.tree.itemActivated.connect(
            lambda item, _col: self.jumpRequested.emit(item.data(0, 256))
        )
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("MNIST test accuracy and loss of the current step (Ctrl+R)")
        self.cancel_button = QPushButton("Cancel")
        idle = (self.undo_button, self.redo_button, self.evaluate_button, self.cancel_button)
        for button in idle:
            button.setEnabled(False)  # nothing to undo or evaluate until a document is bound
        self.count = QSpinBox()
        self.count.setRange(100, MNIST_TEST_SIZE)
        self.count.setSingleStep(1000)
        self.count.setValue(eval_count)
        self.count.setSuffix(" test images")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {theme.ERROR_TEXT};")
        self.note.hide()
        self.earlier = _grey_label()
        buttons = QHBoxLayout()
        for button in (self.undo_button, self.redo_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.count)
        buttons.addWidget(self.evaluate_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        title = QLabel("<b>History</b> — every step keeps its evaluation")
        layout.addWidget(title)
        layout.addWidget(self.earlier)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        self.undo_button.clicked.connect(self.undoRequested.emit)
        self.redo_button.clicked.connect(self.redoRequested.emit)
        self.evaluate_button.clicked.connect(self.evaluateRequested.emit)
        self.cancel_button.clicked.connect(self.cancelRequested.emit)

    def bind(self, document: Document) -> None:
        """Show ``document``'s history now and whenever it moves or a step is evaluated."""
        self.document = document
        document.state_changed.connect(self._redraw)
        document.evaluation_set.connect(self._redraw)
        self.show_earlier(document.earlier_steps)
        self.evaluate_button.setEnabled(True)
        self._redraw()

    def _redraw(self, *_event: object) -> None:
        history = self.document.history
        self.show_history(history.steps, history.cursor)

    def show_earlier(self, steps: list[str]) -> None:
        """Steps recorded in the file by the session that wrote it (not undoable here)."""
        count = len(steps)
        shown = " → ".join(steps[-EARLIER_SHOWN:])
        self.earlier.setText(
            f"The file records {count} earlier step{'s' if count != 1 else ''}: "
            + ("… → " if count > EARLIER_SHOWN else "")
            + shown
        )
        self.earlier.setToolTip("\n".join(f"{i + 1}. {step}" for i, step in enumerate(steps)))
        self.earlier.setVisible(count > 0)

    def show_history(self, steps: list, cursor: int) -> None:
        """One row per step: ▶ marks the current one, undone steps are greyed out."""
        self.tree.clear()
        first = steps[0].params if steps else 0
        for index, step in enumerate(steps):
            share = f" ({100 * step.params / first:.1f}%)" if index and first else ""
            result = step.evaluation
            cells = [
                "▶" if index == cursor else str(index),
                step.description,
                f"{step.params:,}{share}",
                f"{100 * result.accuracy:.2f}%" if result is not None else "—",
                f"{result.loss:.4f}" if result is not None else "—",
            ]
            item = QTreeWidgetItem(cells)
            item.setData(0, 256, index)
            item.setToolTip(1, self._tooltip(step))
            for col in (2, 3, 4):
                item.setTextAlignment(
                    col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
            font = QFont()
            font.setBold(index == cursor)
            font.setItalic(index > cursor)
            for col in range(len(HEADERS)):
                item.setFont(col, font)
                if index > cursor:
                    item.setForeground(col, theme.BULK_EDGE)
            self.tree.addTopLevelItem(item)
        self.undo_button.setEnabled(cursor > 0)
        self.redo_button.setEnabled(cursor < len(steps) - 1)

    @staticmethod
    def _tooltip(step) -> str:
        lines = [step.description]
        for change in step.changes:
            shape = "×".join(map(str, change.shape_before))
            after = (
                f"{change.factor_shapes[0][1]}→{change.factor_shapes[0][0]}→"
                f"{change.factor_shapes[1][0]}"
                if change.factorized
                else shape
            )
            lines.append(
                f"{change.layer}: rank {change.rank_before} → {change.rank_after}, "
                f"{shape} → {after}, params {change.params_before:,} → {change.params_after:,}"
            )
        if step.evaluation is not None:
            lines.append(f"evaluated on {step.evaluation.count:,} test images")
        return "\n".join(lines)

    def set_progress(self, done: int, total: int) -> None:
        """Show evaluation progress (``total == 0`` hides the bar)."""
        self._set_running(total > 0)
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"evaluating… {done:,} / {total:,} test images")

    def set_phase(self, text: str) -> None:
        """Name the step before the images are counted (``starting…``, ``loading MNIST…``) on
        the empty bar, so a slow start never reads as a stalled ``0 / N`` (a busy bar would
        hide the text)."""
        self._set_running(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(text)

    def _set_running(self, running: bool) -> None:
        """Show the bar and Cancel while an evaluation runs; Evaluate otherwise."""
        self.progress.setVisible(running)
        self.cancel_button.setEnabled(running)
        self.evaluate_button.setEnabled(not running)

    def set_note(self, text: str) -> None:
        """Show (or hide, with ``""``) a problem such as an architecture that cannot run."""
        self.note.setText(text)
        self.note.setVisible(bool(text))
