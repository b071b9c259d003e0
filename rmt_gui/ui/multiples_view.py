"""All layers side by side (small multiples), each with its MP fit, cutoff and spikes.

The grid is rebuilt only when the list of layers changes (a pruning step that factorises a
layer); otherwise each cell's persistent items are updated in place.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from rmt_gui.state.plot_data import PlotOptions, plot_data
from rmt_gui.ui import theme
from rmt_gui.ui.spectrum_items import SpectrumItems

ROW_HEIGHT = 230


def columns_for(count: int) -> int:
    """Grid width: up to four plots a row, fewer for small models."""
    return max(1, min(count, 4 if count > 6 else 3))


def cell_title(report, name: str) -> str:
    """A cell's title: layer, shape, and n_signal coloured by fit quality."""
    if report is None:
        return f"<span style='font-size:9pt'>{name} …</span>"
    shape = f"{report.info.shape[0]}×{report.info.shape[1]}"
    if report.analysis is None:
        return f"<span style='font-size:9pt'>{name} {shape} — no spectrum</span>"
    fit = report.analysis.fit
    color = theme.GOOD.name() if fit.good_fit else theme.POOR.name()
    return (
        f"<span style='font-size:9pt'><b>{name}</b> {shape} "
        f"<span style='color:{color}'>n_signal {fit.n_signal}/{fit.p}</span></span>"
    )


class MultiplesView(QWidget):
    """A scrollable grid with one small spectrum plot per layer; click a plot to select it."""

    layerClicked = Signal(str)

    def __init__(self, options: PlotOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.options = options
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.scene().sigMouseClicked.connect(self._clicked)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.canvas)
        self.hint = QLabel("Every layer at once: histogram, MP fit (red), BEMA cutoff (dashed), "
                           "signal spikes (orange). Click a plot to select its layer.")  # fmt: skip
        self.hint.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        layout.addWidget(scroll, 1)
        self.cells: dict[str, tuple[pg.PlotItem, SpectrumItems]] = {}
        self._names: tuple[str, ...] = ()
        self._wanted: list[str] = []
        self._reports: dict = {}
        self._selected = ""
        self._stale = False

    def _rebuild(self, names: tuple[str, ...]) -> None:
        """Lay out one plot per layer (only when the set of layers changed)."""
        self.canvas.clear()
        self.cells = {}
        cols = columns_for(len(names))
        for index, name in enumerate(names):
            plot = self.canvas.addPlot(
                row=index // cols, col=index % cols, axisItems=theme.value_axes()
            )
            theme.style_plot(plot)
            plot.setMenuEnabled(False)
            plot.getAxis("left").setWidth(36)
            self.cells[name] = (plot, SpectrumItems(plot, labels=False, marker_size=7))
        rows = math.ceil(len(names) / cols) if names else 1
        self.canvas.setMinimumHeight(rows * ROW_HEIGHT)
        self._names = names

    def set_reports(self, names: list[str], reports: dict) -> None:
        """Show the layers ``names`` with whatever reports have arrived (drawn when visible)."""
        self._wanted, self._reports = list(names), dict(reports)
        self._stale = True
        if self.isVisible():
            self._refresh()

    def _refresh(self) -> None:
        """Bring the grid up to date (deferred while the tab is hidden: plots cost time)."""
        if not self._stale:
            return
        self._stale = False
        if tuple(self._wanted) != self._names:
            self._rebuild(tuple(self._wanted))
        for name in self._wanted:
            self._draw(name)
        self.select(self._selected)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._refresh()

    def update_report(self, name: str, report) -> None:
        """Redraw one cell when its layer's report arrives."""
        self._reports[name] = report
        if self._stale or not self.isVisible():
            self._stale = True
        elif name in self.cells:
            self._draw(name)

    def _draw(self, name: str) -> None:
        plot, items = self.cells[name]
        report = self._reports.get(name)
        items.update(plot_data(report, self.options) if report is not None else None)
        plot.setTitle(cell_title(report, name))
        plot.getAxis("bottom").setLogMode(self.options.log)

    def set_options(self, options: PlotOptions) -> None:
        """Redraw every cell on a new scale, axis or bin count."""
        self.options = options
        self._stale = True
        if self.isVisible():
            self._refresh()

    def select(self, name: str) -> None:
        """Frame the selected layer's plot."""
        self._selected = name
        for key, (plot, _) in self.cells.items():
            chosen = key == name
            plot.vb.setBorder(theme.pen(theme.MANUAL, 2.5) if chosen else None)

    def _clicked(self, event) -> None:
        for name, (plot, _) in self.cells.items():
            if plot.sceneBoundingRect().contains(event.scenePos()):
                self.layerClicked.emit(name)
                return
