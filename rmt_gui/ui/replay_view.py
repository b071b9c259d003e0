"""Replay a training run: scrub a slider through its recorded steps.

At each step it shows the chosen layer's eigenvalue histogram with the recorded BEMA cutoff
λ₊, the fit and WeightWatcher's metrics of every layer, and the run's curves (n_signal of each
layer, test accuracy per epoch) with a cursor at the step. The run folder is read by
:func:`rmt_gui.state.replay.read_run`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.spectral.histogram import histogram, spectrum_values
from rmt_gui.state.layer_metrics import metric_text
from rmt_gui.state.plot_data import effective_bins
from rmt_gui.state.replay import ReplayStep, Run
from rmt_gui.ui import theme
from rmt_gui.ui.view_box import plot_widget

BINS = 60
CURVE_COLORS = (theme.HIST_LINE, theme.SPIKE, theme.MANUAL, theme.GOOD, theme.MP_CURVE)


def step_table(step: ReplayStep) -> str:
    """Every layer's fit and metrics at one step, as a small HTML table."""
    head = "<tr><th>layer</th><th>n_signal</th><th>fit error</th><th>α</th><th>stable rank</th>"
    rows = []
    for layer in step.layers:
        ww = layer.ww
        mark = "●" if layer.good_fit else "▲"
        rows.append(
            f"<tr><td>{layer.name}</td><td align=right>{int(layer.fit['n_signal'])}</td>"
            f"<td align=right>{layer.fit['fit_error']:.3f} {mark}</td>"
            f"<td align=right>{metric_text(ww.alpha)}</td>"
            f"<td align=right>{metric_text(ww.stable_rank)}</td></tr>"
        )
    return f"<table cellspacing=4>{head}</tr>{''.join(rows)}</table>"


class ReplayView(QWidget):
    """A window replaying one run folder: slider, spectrum, metrics and curves with a cursor."""

    def __init__(self, run: Run, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.run = run
        self.setWindowTitle(f"Replay {run.path.name}")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, len(run.steps) - 1)
        self.slider.setToolTip("Drag (or use the arrow keys) to move through the recorded steps")
        self.step_label = QLabel("")
        self.layer_box = QComboBox()
        self.layer_box.addItems(run.layer_names)
        self.spectrum_plot = plot_widget(axisItems=theme.value_axes())
        self.spectrum_plot.getAxis("bottom").setLogMode(True)  # data in log10, labels real values
        self.hist = self.spectrum_plot.plot(
            [], [], stepMode="center", fillLevel=0, brush=theme.HIST_FILL,
            pen=theme.pen(theme.HIST_LINE),
        )  # fmt: skip
        self.cutoff = pg.InfiniteLine(
            angle=90, pen=theme.pen(theme.CUTOFF, 1.5, Qt.PenStyle.DashLine)
        )
        self.spectrum_plot.addItem(self.cutoff)
        self.spectrum_plot.setLabel("bottom", "eigenvalue λ = s²/n (log axis)")
        self.curve_plot = plot_widget()
        self.curve_plot.addLegend()
        self.curve_plot.setLabel("bottom", "training step")
        self.curve_plot.setLabel("left", "n_signal")
        self.accuracy_plot = plot_widget()
        self.accuracy_plot.setLabel("bottom", "training step")
        self.accuracy_plot.setLabel("left", "test accuracy (%)")
        self.cursors = [pg.InfiniteLine(angle=90, pen=theme.pen(theme.MANUAL, 2))
                        for _ in range(2)]  # fmt: skip
        for plot in (self.spectrum_plot, self.curve_plot, self.accuracy_plot):
            theme.style_plot(plot.getPlotItem())
        self.curve_plot.addItem(self.cursors[0], ignoreBounds=True)
        self.accuracy_plot.addItem(self.cursors[1], ignoreBounds=True)
        self.accuracy_plot.setXLink(self.curve_plot)
        self.table = QLabel("")
        self.table.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.table.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._draw_curves()
        self._layout()
        self.slider.valueChanged.connect(lambda _v: self.show_step())
        self.layer_box.currentIndexChanged.connect(lambda _i: self.show_step())
        self.resize(1300, 800)
        self.show_step()

    def _layout(self) -> None:
        """Slider row on top; spectrum and metrics left, curves right."""
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Step"))
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.step_label)
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer_box)
        grid = QGridLayout()
        grid.addWidget(self.spectrum_plot, 0, 0)
        grid.addWidget(self.curve_plot, 0, 1)
        grid.addWidget(self.table, 1, 0)
        grid.addWidget(self.accuracy_plot, 1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<b>{self.run.path}</b> — {len(self.run.steps)} recorded steps, "
                                f"{len(self.run.checkpoints)} checkpoints"))  # fmt: skip
        layout.addLayout(controls)
        layout.addLayout(grid, 1)

    def _draw_curves(self) -> None:
        """n_signal of every layer and the test accuracy (in %) over the run, drawn once, both
        across the whole run (a layer recorded once, or one epoch, must not shrink the axis)."""
        steps = self.run.step_numbers
        for index, name in enumerate(self.run.layer_names):
            color = CURVE_COLORS[index % len(CURVE_COLORS)]
            values = self.run.fit_curve(name, "n_signal")
            self.curve_plot.plot(steps, values, pen=theme.pen(color, 2), name=name,
                                 connect="finite")  # fmt: skip
        x, y = self.run.epoch_curve("test_accuracy")
        self.accuracy_plot.plot(
            x, 100 * np.asarray(y), pen=theme.pen(theme.HIST_LINE, 2), symbol="o", symbolSize=6
        )
        if len(steps):
            self.curve_plot.setXRange(float(np.min(steps)), float(np.max(steps)), padding=0.02)

    @property
    def current(self) -> ReplayStep:
        """The snapshot the slider points at."""
        return self.run.steps[self.slider.value()]

    def show_step(self) -> None:
        """Draw the slider's step: spectrum, cutoff, metrics table and the curves' cursor."""
        step = self.current
        self.step_label.setText(
            f"step {step.step} · epoch {step.epochs_done:.2f}{' · final' if step.final else ''}"
        )
        for cursor in self.cursors:
            cursor.setValue(step.step)
        self.table.setText(step_table(step))
        layer = step.layer(self.layer_box.currentText())
        if layer is None:
            self.hist.setData([], [])
            self.cutoff.hide()
            return
        values = spectrum_values(layer.spectrum)
        edges, density = histogram(values, effective_bins(values.size, BINS), log=True)
        self.hist.setData(edges, density)
        self.cutoff.setValue(float(np.log10(layer.fit["lambda_plus"])))
        self.cutoff.show()

    def select_step(self, index: int) -> None:
        """Move the slider to snapshot ``index``."""
        self.slider.setValue(index)
