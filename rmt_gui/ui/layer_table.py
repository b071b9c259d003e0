"""The sortable, keyboard-navigable table of a model's fully connected layers."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from rmt_gui.ui import theme

COLUMNS = ("Layer", "Shape", "Params", "n_signal", "Rank → kept", "Fit error", "GD")
TIPS = (
    "Weight name in the file",
    "out × in",
    "Weights and bias of this layer",
    "Signal eigenvalues above the BEMA cutoff λ₊",
    "Current numerical rank → rank the pruning rule would keep (preview; purple: factorised)",
    "Largest CDF gap between the MP fit and the spectrum: ● good (< 0.1), ▲ poor",
    "Gavish–Donoho optimal hard-threshold rank",
)
KEEP_COLUMN = 4
SORT_ROLE = Qt.ItemDataRole.UserRole
NAME_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


@dataclass
class Row:
    """One table row: the layer, its report once analysed, and the previewed rank."""

    info: object
    report: object = None
    keep: str = ""
    keep_sort: int = -1
    split: bool = False


def _cells(row: Row) -> tuple[list[str], list[object]]:
    """Display texts and sort keys of one row."""
    info, report = row.info, row.report
    shape = f"{info.shape[0]}×{info.shape[1]}"
    texts = [info.name, shape, theme.compact(info.params), "…", "…", "…", "…"]
    keys: list[object] = [info.name, info.shape[0] * info.shape[1], info.params, -1,
                          row.keep_sort, float("inf"), -1]  # fmt: skip
    if report is not None and report.analysis is not None:
        fit = report.analysis.fit
        mark = "●" if fit.good_fit else "▲"
        kept = f"{report.rank} → {row.keep}" if row.keep else str(report.rank)
        texts[3:] = [str(fit.n_signal), kept, f"{fit.fit_error:.3f} {mark}",
                     str(report.analysis.rank_gavish_donoho)]  # fmt: skip
        keys[3:] = [fit.n_signal, row.keep_sort if row.keep else report.rank, fit.fit_error,
                    report.analysis.rank_gavish_donoho]  # fmt: skip
    elif report is not None:
        texts[3:] = ["—", row.keep or "—", "failed", "—"]
    return texts, keys


class LayerTableModel(QAbstractTableModel):
    """Rows of layers; reports and previews fill in as they arrive."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Row] = []
        self._index: dict[str, int] = {}

    def rowCount(self, parent: Index | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS[section]
        return None

    def data(self, index: Index, role: int = 0) -> object:
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _cells(row)[0][col]
        if role == SORT_ROLE:
            return _cells(row)[1][col]
        if role == NAME_ROLE:
            return row.info.name
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col == KEEP_COLUMN and row.split:
            return theme.MANUAL
        if role == Qt.ItemDataRole.ForegroundRole and col == 5 and row.report is not None:
            analysis = row.report.analysis
            return theme.GOOD if analysis is not None and analysis.fit.good_fit else theme.POOR
        if role == Qt.ItemDataRole.FontRole and col == 0 and row.report is not None:
            font = QFont()
            font.setItalic(not row.report.prunable)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        return None

    @staticmethod
    def _tooltip(row: Row) -> str:
        report = row.report
        if report is None:
            return "analysing…"
        if report.problem:
            return f"{row.info.name}: {report.problem}"
        if not report.prunable:
            return f"{row.info.name}: spectrum only (not the weight of a linear layer)"
        return f"{row.info.name}: {row.info.params:,} parameters"

    def row_of(self, name: str) -> int | None:
        """The row index of layer ``name``."""
        return self._index.get(name)

    def set_layers(self, infos: list) -> None:
        """Replace the rows (a new model state); reports follow."""
        self.beginResetModel()
        self.rows = [Row(info) for info in infos]
        self._index = {info.name: i for i, info in enumerate(infos)}
        self.endResetModel()

    def set_report(self, report) -> None:
        """Fill in one layer's analysis."""
        i = self._index.get(report.name)
        if i is not None:
            self.rows[i].report = report
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def set_keep(self, keep: dict[str, tuple[str, int, bool]]) -> None:
        """Show the previewed rank per layer: text, sort key, factorised (others blank)."""
        for row in self.rows:
            row.keep, row.keep_sort, row.split = keep.get(row.info.name, ("", -1, False))
        if self.rows:
            last = len(self.rows) - 1
            self.dataChanged.emit(self.index(0, KEEP_COLUMN), self.index(last, KEEP_COLUMN))


class LayerTable(QTableView):
    """The layer table view: sortable columns, row selection, arrow-key navigation."""

    currentLayerChanged = Signal(str)
    layersSelected = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = LayerTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.source)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        header = self.horizontalHeader()
        header.setMinimumSectionSize(28)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.selectionModel().currentRowChanged.connect(self._current_changed)
        self.selectionModel().selectionChanged.connect(lambda *_: self.layersSelected.emit())

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.currentLayerChanged.emit(str(current.data(NAME_ROLE)))

    def current_layer(self) -> str | None:
        """The layer of the current row."""
        index = self.currentIndex()
        return str(index.data(NAME_ROLE)) if index.isValid() else None

    def selected_layers(self) -> list[str]:
        """Names of the selected rows, in model order."""
        names = {str(i.data(NAME_ROLE)) for i in self.selectionModel().selectedRows()}
        return [row.info.name for row in self.source.rows if row.info.name in names]

    def select_layer(self, name: str) -> None:
        """Make ``name`` the current, selected row."""
        i = self.source.row_of(name)
        if i is None:
            return
        index = self.proxy.mapFromSource(self.source.index(i, 0))
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.selectionModel().setCurrentIndex(index, flags)
        self.scrollTo(index)
