"""The pruning log (one entry per cut, one row per layer) and the final comparison table."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from rmt_gui.jobs.events import LayerPruning, PruneEvent
from rmt_gui.state.training import ComparisonRow, duration_text
from rmt_gui.ui import theme

LOG_COLUMNS = ("Cut / layer", "Shape before → after", "Rank", "n_signal", "Fit error", "Note")
TABLE_COLUMNS = (
    "Run", "Status", "Epochs", "Test accuracy", "Best test accuracy", "Parameters",
    "vs baseline", "Layer shapes", "Time", "Model file",
)  # fmt: skip
NUMERIC = {2, 3, 4, 5, 6, 8}
FIRST_COLUMN = 250


def _shape(shape: tuple[int, int]) -> str:
    return f"{shape[0]}×{shape[1]}"


def layer_cells(record: LayerPruning) -> list[str]:
    """One layer of a cut: shape and rank before → after, fit, why it was left alone."""
    after = " + ".join(_shape(s) for s in record.shapes_after)
    mark = "●" if record.good_fit else "▲"
    note = record.skipped or ("factorised" if record.factorized else "")
    return [
        record.layer,
        f"{_shape(record.shape)} → {after}" if not record.skipped else _shape(record.shape),
        f"{record.rank_before} → {record.rank_after}",
        f"{record.n_signal}",
        f"{record.fit_error:.3f} {mark}",
        note,
    ]


def _percent(value: float | None) -> str:
    return f"{100 * value:.2f}%" if value is not None else "—"


def row_cells(row: ComparisonRow) -> list[str]:
    """The comparison table's texts for one run (the model as ``run folder/file``)."""
    share = f"{100 * row.params_fraction:.1f}%" if row.params_fraction is not None else "—"
    model = Path(row.model_path) if row.model_path else None
    return [
        row.label, row.status, f"{row.epochs_done:.2f}", _percent(row.test_accuracy),
        _percent(row.best_test_accuracy), f"{row.params:,}", share, row.shapes,
        duration_text(row.seconds), f"{model.parent.name}/{model.name}" if model else "—",
    ]  # fmt: skip


class PruningLog(QTreeWidget):
    """Each cut with its parameter change; expand it for every layer's fit and rank change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(LOG_COLUMNS)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        header = self.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.setColumnWidth(0, FIRST_COLUMN)
        self.cuts: list[tuple[str, PruneEvent]] = []

    def clear_log(self) -> None:
        self.clear()
        self.cuts = []

    def add_note(self, text: str) -> None:
        """A line about the run itself (start, end)."""
        item = QTreeWidgetItem([text])
        item.setForeground(0, theme.BULK_EDGE)
        item.setToolTip(0, text)
        self.addTopLevelItem(item)
        item.setFirstColumnSpanned(True)
        self.scrollToItem(item)

    def add_cut(self, label: str, cut: PruneEvent) -> None:
        """One cut of run ``label`` and a child row per layer (expanded)."""
        self.cuts.append((label, cut))
        changed = len(cut.changed)
        head = QTreeWidgetItem([
            f"Cut at step {cut.step} (epoch {cut.epochs_done:.2f})",
            f"params {cut.params_before:,} → {cut.params_after:,}", "", "", "",
            f"f = {cut.keep_noise:g}, {cut.variant}; {changed} of {len(cut.layers)} layers "
            f"changed ({cut.seconds:.2f} s)",
        ])  # fmt: skip
        font = head.font(0)
        font.setBold(True)
        head.setFont(0, font)
        for record in cut.layers:
            child = QTreeWidgetItem(layer_cells(record))
            child.setForeground(4, theme.GOOD if record.good_fit else theme.POOR)
            if record.skipped:
                for col in (0, 1, 2, 5):
                    child.setForeground(col, theme.BULK_EDGE)
            head.addChild(child)
        self.addTopLevelItem(head)
        head.setExpanded(True)
        self.scrollToItem(head.child(head.childCount() - 1) if head.childCount() else head)


class ComparisonTable(QTableWidget):
    """The final accuracy and size of the pruned run and its baseline."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(TABLE_COLUMNS), parent)
        self.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

    def set_rows(self, rows: list[ComparisonRow]) -> None:
        """Show one row per finished run."""
        self.setRowCount(len(rows))
        for index, row in enumerate(rows):
            for col, text in enumerate(row_cells(row)):
                cell = QTableWidgetItem(text)
                cell.setToolTip(row.model_path if col == len(TABLE_COLUMNS) - 1 else text)
                if col in NUMERIC:
                    cell.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.setItem(index, col, cell)

    def texts(self) -> list[list[str]]:
        """Every cell's text, row by row."""
        return [
            [self.item(r, c).text() for c in range(self.columnCount())]
            for r in range(self.rowCount())
        ]
