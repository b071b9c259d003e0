"""Compare two checkpoints of one architecture: a sortable delta table and overlaid spectra.

The comparison runs in a worker thread (:func:`rmt_gui.jobs.compare_job.compare_job`, the
logic of ``rmt-gui compare``); selecting a row draws that layer's eigenvalue histograms of A
and B on one log axis.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QLabel, QSplitter, QTableView, QVBoxLayout, QWidget

from rmt_gui.spectral.histogram import histogram, spectrum_values
from rmt_gui.state.compare_table import DeltaCell, delta_headers, delta_rows
from rmt_gui.state.plot_data import effective_bins
from rmt_gui.ui import theme
from rmt_gui.ui.view_box import plot_widget
from rmt_gui.ui.workers import Runner

SORT_ROLE = Qt.ItemDataRole.UserRole
NAME_ROLE = Qt.ItemDataRole.UserRole + 1
BINS = 40
COLORS = {"A": theme.HIST_LINE, "B": QColor(221, 132, 26)}
COMPARE_JOB = "compare"


class DeltaModel(QAbstractTableModel):
    """Rows of :class:`~rmt_gui.state.compare_table.DeltaCell`, one per layer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headers: list[str] = []
        self.rows: list[list[DeltaCell]] = []

    def set_layers(self, layers: list) -> None:
        """Show these compared layers (largest change first)."""
        self.beginResetModel()
        self.headers, self.rows = delta_headers(layers), delta_rows(layers)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        return None

    def data(self, index: QModelIndex, role: int = 0) -> object:
        cell = self.rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.text
        if role == SORT_ROLE:
            return cell.key
        if role == NAME_ROLE:
            return self.rows[index.row()][0].text
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell.tip or None
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class CompareView(QWidget):
    """A window comparing checkpoint B against A, layer by layer."""

    def __init__(self, path_a: Path, path_b: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.path_a, self.path_b = Path(path_a), Path(path_b)
        self.setWindowTitle(f"Compare {self.path_a.name} → {self.path_b.name}")
        self.compared = None
        self.current: str | None = None
        self.runner = Runner(self)
        self.header = QLabel(f"Comparing <b>{self.path_a.name}</b> (A) with "
                             f"<b>{self.path_b.name}</b> (B)…")  # fmt: skip
        self.header.setWordWrap(True)
        self.model = DeltaModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.plot = plot_widget(axisItems=theme.value_axes())
        theme.style_plot(self.plot.getPlotItem())
        self.plot.getAxis("bottom").setLogMode(True)  # data in log10, labels real values
        theme.show_values(self.plot.getPlotItem(), False)  # blank until a layer is drawn
        self.plot.setLabel("bottom", "eigenvalue λ = s²/n (log axis)")
        self.plot.setLabel("left", "density")
        self.plot.addLegend()
        self.curves = {
            side: self.plot.plot([], [], stepMode="center", pen=theme.pen(color, 2), name=side)
            for side, color in COLORS.items()
        }
        self.readout = QLabel("")
        self.body = QSplitter(Qt.Orientation.Horizontal)
        self.body.addWidget(self.table)
        right = QWidget()
        column = QVBoxLayout(right)
        column.addWidget(self.readout)
        column.addWidget(self.plot, 1)
        self.body.addWidget(right)
        self.body.setSizes([700, 500])
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.body, 1)
        self.resize(1300, 700)

    def start(self) -> None:
        """Compare the two checkpoints in the background."""
        from rmt_gui.jobs.compare_job import compare_job

        a, b = self.path_a, self.path_b
        self.runner.start(
            COMPARE_JOB, lambda token: compare_job(token, a, b),
            on_item=self.show_compared, on_error=self._failed,
        )  # fmt: skip

    def _failed(self, message: str) -> None:
        """Say why the comparison failed (e.g. not the same architecture): that line only, no
        empty table and plot below it."""
        self.header.setText(f"<span style='color:{theme.ERROR_TEXT}'>✖ {message}</span>")
        self.body.hide()
        self.layout().addStretch(1)

    def show_compared(self, compared) -> None:
        """Fill the delta table (largest change first) and draw the first layer."""
        self.compared = compared
        self.model.set_layers(list(compared.layers))
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.resizeColumnsToContents()
        self.header.setText(
            f"<b>{compared.path_a.name}</b> (A) → <b>{compared.path_b.name}</b> (B): "
            f"{len(compared.layers)} layers, largest change first; click a header to sort by "
            "the size of a metric's change, hover a cell for both values."
        )
        if compared.layers:
            self.select_layer(compared.layers[0].info.name)

    def shown_layers(self) -> list[str]:
        """Layer names in the table's current order."""
        return [
            str(self.proxy.index(row, 0).data(NAME_ROLE)) for row in range(self.proxy.rowCount())
        ]

    def select_layer(self, name: str) -> None:
        """Make ``name`` the current row (its spectra are drawn)."""
        if name in self.shown_layers():
            self.table.selectRow(self.shown_layers().index(name))

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and self.compared is not None:
            self.draw(str(current.data(NAME_ROLE)))

    def draw(self, name: str) -> None:
        """Overlay layer ``name``'s eigenvalue histograms of A and B."""
        self.current = name
        spectra = dict(zip(COLORS, self.compared.spectra.get(name, (None, None)), strict=True))
        for side, spectrum in spectra.items():
            if spectrum is None:
                self.curves[side].setData([], [])
                continue
            values = spectrum_values(spectrum)
            edges, density = histogram(values, effective_bins(values.size, BINS), log=True)
            self.curves[side].setData(edges, density)
        theme.show_values(self.plot.getPlotItem(), True)
        self.readout.setText(f"<b>{name}</b>: A in blue, B in orange")

    def closeEvent(self, event) -> None:
        """Stop the comparison if it still runs."""
        self.runner.close()
        super().closeEvent(event)
