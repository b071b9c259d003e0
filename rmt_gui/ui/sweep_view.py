"""Rank sweep of one layer: test accuracy against singular values kept, drawn as it fills in.

The view draws the sweep its document holds for the current state and the focused layer
(:meth:`SweepView.bind`), so undo, redo and a new layer never leave an old curve behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.ui import theme
from rmt_gui.ui.spectrum_items import SIDE_ANCHORS
from rmt_gui.ui.view_box import plot_widget

if TYPE_CHECKING:
    from rmt_gui.state.document import Document


class SweepView(QWidget):
    """Start/cancel a sweep of the selected layer and plot the points as they arrive."""

    startRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, points: int, log: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Select a layer, then start the sweep.")
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.log_box = QCheckBox("log axis")
        self.log_box.setChecked(log)
        self.log_box.setToolTip(
            "Ranks spaced geometrically from 1 on a log axis, or linearly from k = 0 (the layer "
            "zeroed) on a linear axis, as in the paper's figure; applies to the next sweep"
        )
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
        self.plot_widget = plot_widget(axisItems=theme.value_axes())
        self.plot = self.plot_widget.getPlotItem()
        theme.style_plot(self.plot)
        self.plot.setLabel("bottom", "singular values kept (rank)")
        self.plot.setLabel("left", "test accuracy (%)")
        self.curve = pg.PlotDataItem(
            pen=theme.pen(theme.SWEEP, 2), symbol="o", symbolSize=7,
            symbolBrush=pg.mkBrush(theme.SWEEP), symbolPen=pg.mkPen("w"),
        )  # fmt: skip
        self.plot.addItem(self.curve)
        self.bema_line = pg.InfiniteLine(
            angle=90, pen=theme.pen(theme.CUTOFF, 1.6, Qt.PenStyle.DashLine),
            label="BEMA n_signal", labelOpts={"position": 0.1, "color": theme.CUTOFF,
                                              "anchors": SIDE_ANCHORS},
        )  # fmt: skip
        self.full_line = pg.InfiniteLine(
            angle=0, pen=theme.pen(theme.BULK_EDGE, 1.2, Qt.PenStyle.DotLine),
            label="unpruned", labelOpts={"position": 0.02, "color": theme.BULK_EDGE,
                                         "anchors": [(0, 1), (0, 1)]},
        )  # fmt: skip
        for line in (self.bema_line, self.full_line):
            self.plot.addItem(line, ignoreBounds=True)
            line.hide()
        controls = QHBoxLayout()
        controls.addWidget(self.title, 1)
        controls.addWidget(self.log_box)
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
        self.log_box.toggled.connect(lambda _on: self._redraw())
        self.ranks: list[int] = []
        self.accuracy: list[float] = []
        self.bema_rank: int | None = None
        self._redraw()

    @property
    def log(self) -> bool:
        return self.log_box.isChecked()

    @property
    def spacing(self) -> str:
        """How the next sweep spaces its ranks: ``log`` (from 1) or ``linear`` (from 0)."""
        return "log" if self.log else "linear"

    def _axis(self, ranks: np.ndarray) -> np.ndarray:
        return np.log10(ranks) if self.log else ranks

    def _apply_axis(self) -> None:
        self.plot.getAxis("bottom").setLogMode(self.log)
        hidden = " (k = 0 is not shown on a log axis)" if self.log and 0 in self.ranks else ""
        self.plot.setLabel("bottom", f"singular values kept (rank){hidden}")

    def _redraw(self) -> None:
        """Draw the points so far (sorted by rank) and the BEMA line on the current axis."""
        self._apply_axis()
        if self.bema_rank is not None:
            self.bema_line.setValue(float(self._axis(np.asarray(max(self.bema_rank, 1.0)))))
        ranks = np.asarray(self.ranks, dtype=float)
        shown = ranks > 0 if self.log else np.ones(ranks.size, dtype=bool)
        order = np.argsort(ranks[shown])
        x = self._axis(ranks[shown][order])
        y = np.asarray(self.accuracy)[shown][order]
        self.curve.setData(x, y)
        theme.show_values(self.plot, bool(x.size))
        if x.size:
            low = 0.0 if self.log else min(0.0, float(x.min()))
            self.plot.setRange(xRange=(low, max(float(x.max()), 1.0)), yRange=(0, 100),
                               padding=0.03)  # fmt: skip

    def bind(self, document: Document) -> None:
        """Draw ``document``'s sweep of the focused layer; redraw when any of the three changes."""
        self.document = document
        for signal in (document.state_changed, document.focus_changed,
                       document.sweep_changed, document.evaluation_set):  # fmt: skip
            signal.connect(self._redraw_document)
        self._redraw_document()

    def _redraw_document(self, *_event: object) -> None:
        """Show the sweep of the current state's focused layer, or invite one."""
        doc = self.document
        sweep = doc.sweep()
        evaluation = doc.history.current.evaluation
        self._set_full(evaluation.accuracy if evaluation is not None else None)
        if sweep is None:
            self.ranks, self.accuracy, self.bema_rank = [], [], None
            self.bema_line.hide()
            self._redraw()
            self.set_message(
                f"Layer <b>{doc.focus}</b>: press Run sweep" if doc.focus else
                "Select a layer, then start the sweep."
            )  # fmt: skip
            return
        self.ranks = [point.rank for point in sweep.points]
        self.accuracy = [100.0 * point.accuracy for point in sweep.points]
        self.bema_rank = sweep.n_signal
        self.bema_line.label.setFormat(f"BEMA n_signal = {sweep.n_signal}")
        self.bema_line.show()
        self._redraw()
        if sweep.message:
            self.set_message(sweep.message)
        else:
            self.title.setText(
                f"<b>{sweep.layer}</b>: accuracy vs singular values kept ({sweep.total} ranks)"
            )
            self.set_running(len(sweep.points), sweep.total)

    def _set_full(self, accuracy: float | None) -> None:
        """Mark the current model's accuracy, when it has been evaluated."""
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
