"""The heat-map overview: every layer (rows) against every metric (columns), one colour each.

Colours are each metric's value normalised over the layers shown
(:func:`rmt_gui.state.layer_metrics.normalised`, viridis: dark low, yellow high; grey:
undefined); a cell's tooltip gives the value itself. Clicking a cell opens its layer.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.state.layer_metrics import METRICS, metric_matrix, metric_text, normalised
from rmt_gui.state.layer_names import short_names

UNDEFINED = QColor(225, 225, 225)
ROW_HEIGHT = 16
CELL_WIDTH = 40
NAME_ROLE = Qt.ItemDataRole.UserRole
Index = QModelIndex | QPersistentModelIndex
LEGEND = (
    "Each column is one metric, scaled over these layers: dark = lowest, yellow = highest, "
    "grey = undefined. Hover for values; click a cell to open its layer's spectrum."
)


class HeatmapModel(QAbstractTableModel):
    """Layers × metrics: colours from normalised values, the values in tooltips."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names: list[str] = []
        self.current: str | None = None
        self.labels: dict[str, str] = {}
        self.values = np.empty((0, len(METRICS)))
        self.colors: list[list[QColor]] = []
        self._map = pg.colormap.get("viridis")

    def rowCount(self, parent: Index | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.names)

    def columnCount(self, parent: Index | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(METRICS)

    def set_reports(self, names: list[str], reports: dict) -> None:
        """Show the layers ``names`` with the reports that have arrived (others grey)."""
        self.beginResetModel()
        self.names = list(names)
        self.labels = short_names(self.names)
        self.values = metric_matrix([reports.get(name) for name in self.names])
        scaled = normalised(self.values)
        rgba = self._map.map(np.nan_to_num(scaled, nan=0.0).ravel(), mode="byte")
        colors = [QColor(*map(int, rgb[:3])) for rgb in rgba]
        width = len(METRICS)
        self.colors = [
            [UNDEFINED if np.isnan(scaled[r, c]) else colors[r * width + c] for c in range(width)]
            for r in range(len(self.names))
        ]
        self.endResetModel()

    def value(self, row: int, column: int) -> float | None:
        """The metric value of a cell, ``None`` when undefined."""
        value = self.values[row, column]
        return None if np.isnan(value) else float(value)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        horizontal = orientation == Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DisplayRole:
            return METRICS[section].header if horizontal else self._row_label(section)
        if role == Qt.ItemDataRole.ToolTipRole:
            return METRICS[section].tip if horizontal else self.names[section]
        if role == Qt.ItemDataRole.FontRole and not horizontal:
            font = QFont()
            font.setBold(self.names[section] == self.current)
            return font
        return None

    def _row_label(self, row: int) -> str:
        """A row's short layer name, marked when it is the layer shown."""
        name = self.names[row]
        return f"▶ {self.labels[name]}" if name == self.current else self.labels[name]

    def set_current(self, name: str | None) -> None:
        """Mark the row of layer ``name`` (colours stay visible: no selection highlight)."""
        self.current = name
        if self.names:
            self.headerDataChanged.emit(Qt.Orientation.Vertical, 0, len(self.names) - 1)

    def data(self, index: Index, role: int = 0) -> object:
        row, col = index.row(), index.column()
        if role == Qt.ItemDataRole.BackgroundRole:
            return self.colors[row][col]
        if role == NAME_ROLE:
            return self.names[row]
        if role == Qt.ItemDataRole.ToolTipRole:
            metric = METRICS[col]
            shown = metric_text(self.value(row, col))
            return f"{self.names[row]}\n{metric.header} = {shown}\n{metric.tip}"
        return None


class MetricHeatmap(QWidget):
    """The overview tab: a legend line and the layers × metrics grid."""

    layerClicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = HeatmapModel(self)
        self.grid = QTableView()
        self.grid.setModel(self.model)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setShowGrid(False)
        rows = self.grid.verticalHeader()
        rows.setDefaultSectionSize(ROW_HEIGHT)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        columns = self.grid.horizontalHeader()
        columns.setMinimumSectionSize(CELL_WIDTH)
        columns.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.grid.clicked.connect(self._clicked)
        legend = QLabel(LEGEND)
        legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(legend)
        layout.addWidget(self.grid, 1)

    def set_reports(self, names: list[str], reports: dict) -> None:
        """Show these layers' metrics (called as reports arrive and when the state changes)."""
        self.model.set_reports(names, reports)

    def selected(self) -> str | None:
        """The layer marked as shown."""
        return self.model.current

    def select(self, name: str) -> None:
        """Mark the row of layer ``name`` (the one the spectrum view shows) and scroll to it."""
        self.model.set_current(name)
        if name in self.model.names:
            self.grid.scrollTo(self.model.index(self.model.names.index(name), 0))

    def _clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.layerClicked.emit(str(index.data(NAME_ROLE)))
