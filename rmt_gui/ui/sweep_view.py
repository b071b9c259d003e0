"""Rank sweep of one layer: test accuracy against singular values kept, drawn as it fills in."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.ui import theme


class SweepView(QWidget):
    """Start/cancel a sweep of the selected layer and plot the points as they arrive."""

    startRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, points: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Select a layer, then start the sweep.")
        self.points = QSpinBox()
        self.points.setRange(3, 64)
        self.points.setValue(points)
        self.points.setSuffix(" ranks")
        self.start_button = QPushButton("Run sweep")
        self.start_button.setToolTip(
            "Truncate the selected layer to each rank and evaluate (Ctrl+Shift+R)"
        )
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.plot_widget = pg.PlotWidget(axisItems=theme.value_axes())
        self.plot = self.plot_widget.getPlotItem()
        theme.style_plot(self.plot)
        self.plot.setLabel("bottom", "singular values kept (rank)")
        self.plot.setLabel("left", "test accuracy (%)")
        self.plot.getAxis("bottom").setLogMode(True)
        self.curve = pg.PlotDataItem(
            pen=theme.pen(theme.SWEEP, 2), symbol="o", symbolSize=7,
            symbolBrush=pg.mkBrush(theme.SWEEP), symbolPen=pg.mkPen("w"),
        )  # fmt: skip
        self.plot.addItem(self.curve)
        self.bema_line = pg.InfiniteLine(
            angle=90, pen=theme.pen(theme.CUTOFF, 1.6, Qt.PenStyle.DashLine),
            label="BEMA n_signal", labelOpts={"position": 0.1, "color": theme.CUTOFF},
        )  # fmt: skip
        self.full_line = pg.InfiniteLine(
            angle=0, pen=theme.pen(theme.BULK_EDGE, 1.2, Qt.PenStyle.DotLine),
            label="unpruned", labelOpts={"position": 0.05, "color": theme.BULK_EDGE},
        )  # fmt: skip
        for line in (self.bema_line, self.full_line):
            self.plot.addItem(line, ignoreBounds=True)
            line.hide()
        controls = QHBoxLayout()
        controls.addWidget(self.title, 1)
        controls.addWidget(self.points)
        controls.addWidget(self.start_button)
        controls.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.plot_widget, 1)
        self.start_button.clicked.connect(self.startRequested.emit)
        self.cancel_button.clicked.connect(self.cancelRequested.emit)
        self.ranks: list[int] = []
        self.accuracy: list[float] = []

    def begin(self, layer: str, bema_rank: int, total: int) -> None:
        """Reset the plot for a new sweep of ``layer``."""
        self.ranks, self.accuracy = [], []
        self.curve.setData([], [])
        self.title.setText(f"<b>{layer}</b>: accuracy vs singular values kept")
        self.bema_line.setValue(np.log10(max(bema_rank, 1)))
        self.bema_line.label.setFormat(f"BEMA n_signal = {bema_rank}")
        self.bema_line.show()
        self.set_running(0, total)

    def add_point(self, point) -> None:
        """Add one (rank, accuracy) point; the line is redrawn sorted by rank."""
        self.ranks.append(point.rank)
        self.accuracy.append(100.0 * point.accuracy)
        order = np.argsort(self.ranks)
        x = np.log10(np.asarray(self.ranks, dtype=float)[order])
        y = np.asarray(self.accuracy)[order]
        self.curve.setData(x, y)
        self.plot.setRange(xRange=(0, max(x.max(), 1.0)), yRange=(0, 100), padding=0.03)
        self.set_running(point.done, point.total)

    def set_full(self, accuracy: float | None) -> None:
        """Mark the unpruned model's accuracy, when it has been evaluated."""
        if accuracy is not None:
            self.full_line.setValue(100.0 * accuracy)
            self.full_line.label.setFormat(f"current model {100 * accuracy:.2f}%")
        self.full_line.setVisible(accuracy is not None)

    def set_running(self, done: int, total: int) -> None:
        """Progress of the sweep; ``done == total`` ends it."""
        running = done < total
        self.progress.setVisible(running)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total} ranks evaluated")
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def set_message(self, text: str) -> None:
        """Show a status line (errors, cancellation) in the title."""
        self.title.setText(text)
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.hide()
