"""Live training curves: mini-batch loss and epoch accuracy, with the cuts marked.

Every curve is a persistent item updated with ``setData`` (docs/architecture.md §3); cut markers
are vertical lines kept in a pool and reused, never re-created per frame. The loss and the
accuracy plots are drawn by separate calls, so a live view can give each a frame of its own.
The RMT-pruned run is drawn in colour, the unpruned baseline over it in grey, both on an epoch
axis. The raw loss (a point per step) is drawn peak-downsampled to the plot's width, without
antialiasing.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from rmt_gui.state.training import RunState
from rmt_gui.ui import theme
from rmt_gui.ui.epoch_markers import EpochKey, EpochMarkers
from rmt_gui.ui.view_box import plot_item

EMPTY = np.zeros(0)
RUN_COLOURS = (theme.SWEEP, QColor(110, 110, 110))
RAW_ALPHA = 70
SNUG = 0.6
MARGIN = 0.08
AHEAD = 0.3
AXIS_PX = 56
MIN_ACCURACY_SPAN = 4.0
RESERVED_MARKERS = 12
"""Cut markers made ahead of a run (one cut at the start and one an epoch, at most this many)."""


def frame_y(
    plot: pg.PlotItem, lo: float, hi: float, below: float, above: float, min_span: float = 1e-6
) -> None:
    """Show ``[lo, hi]`` (axis units, widened about its middle to at least ``min_span``),
    keeping the current range while it still fits snugly.

    Re-ranging re-lays the axis ticks and labels, the dearest part of a repaint, so a live
    plot changes its range only when the data leaves it or fills much less of it; ``below``
    and ``above`` (fractions of the span) leave room where the curve is heading.
    """
    if hi - lo < min_span:
        middle = 0.5 * (lo + hi)
        lo, hi = middle - 0.5 * min_span, middle + 0.5 * min_span
    span = hi - lo
    y0, y1 = plot.viewRange()[1]
    if y0 <= lo and hi <= y1 and span >= SNUG * (y1 - y0):
        return
    plot.setYRange(lo - below * span, hi + above * span, padding=0)


def accuracy_points(run: RunState) -> tuple[np.ndarray, np.ndarray]:
    """Epochs and test accuracy (%) at each epoch's end, then at the stop of a run stopped
    between epochs (the accuracy of the model it saved)."""
    epochs, _train, test = run.accuracy_curves()
    ended = run.ended
    if ended is None or ended.test_accuracy is None:
        return epochs, test
    if epochs.size and ended.epochs_done <= epochs[-1] + 1e-9:
        return epochs, test
    return np.append(epochs, ended.epochs_done), np.append(test, 100.0 * ended.test_accuracy)


def split_runs(runs: list[RunState]) -> tuple[RunState | None, RunState | None]:
    """The pruned run and the unpruned baseline among ``runs`` (either may be missing)."""
    pruned = next((r for r in runs if not r.baseline), None)
    baseline = next((r for r in runs if r.baseline), None)
    return pruned, baseline


def cut_positions(run: RunState | None) -> np.ndarray:
    """Where ``run``'s cuts happened, in epochs (none without a run)."""
    return run.cut_positions() if run is not None else np.zeros(0)


class RunCurves:
    """The persistent items of one run in the loss and accuracy plots."""

    def __init__(self, loss: pg.PlotItem, accuracy: pg.PlotItem, colour: QColor, name: str):
        raw = QColor(colour)
        raw.setAlpha(RAW_ALPHA)
        self.raw = loss.plot(pen=theme.pen(raw, 1), antialias=False)
        self.raw.setDownsampling(auto=True, method="peak")
        self.raw.setClipToView(True)
        self.smooth = loss.plot(pen=theme.pen(colour, 2.2), name=name)
        self.test = accuracy.plot(pen=theme.pen(colour, 2.2))
        self.train = accuracy.plot(pen=theme.pen(colour, 1.4, Qt.PenStyle.DashLine))
        self.markers = EpochMarkers(colour)
        accuracy.addItem(self.markers)
        for curve, kind in ((self.test, "test"), (self.train, "train")):
            accuracy.legend.addItem(EpochKey(curve, self.markers, kind, colour), f"{name} {kind}")
        self._shown: tuple[RunState, int, object] | None = None
        self._loss_shown = True

    def show_loss(self, run: RunState | None) -> NDArray[np.float64]:
        """Draw ``run``'s loss curves (nothing for ``None`` or before its start; an empty
        curve is emptied once, not at every frame); returns the losses drawn."""
        if run is None or run.started is None:
            if self._loss_shown:
                self.raw.setData([], [])
                self.smooth.setData([], [])
            self._loss_shown = False
            return np.zeros(0)
        self._loss_shown = True
        curve = run.loss_curve()
        self.raw.setData(*curve)
        self.smooth.setData(*run.smoothed_loss(curve))
        return curve[1]

    def show_accuracy(self, run: RunState | None) -> bool:
        """Draw ``run``'s accuracy curves when they changed; returns whether they were redrawn."""
        started = run is not None and run.started is not None
        shown = (run, len(run.epochs), run.ended) if started else None
        if shown == self._shown:  # unchanged, or still empty (as made)
            return False
        self._shown = shown
        if shown is None:
            self.test.setData([], [])
            self.train.setData([], [])
            self.markers.set_points((EMPTY, EMPTY), (EMPTY, EMPTY))
            return True
        epochs, train, _test = run.accuracy_curves()
        test = accuracy_points(run)
        self.train.setData(epochs, train)
        self.test.setData(*test)
        self.markers.set_points(test, (epochs, train))
        return True


class CutMarkers:
    """Vertical dashed lines at the cuts, in one plot (a pool of lines, shown as needed)."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.lines: list[pg.InfiniteLine] = []

    def reserve(self, count: int) -> None:
        """Have at least ``count`` lines (hidden until used): adding a line to the plot mid-run
        cost a frame about a millisecond, at every epoch's cut."""
        while len(self.lines) < count:
            line = pg.InfiniteLine(
                angle=90, movable=False, pen=theme.pen(theme.MANUAL, 1.3, Qt.PenStyle.DashLine)
            )
            line.setVisible(False)
            self.plot.addItem(line, ignoreBounds=True)
            self.lines.append(line)

    def show(self, positions: np.ndarray) -> None:
        """One visible line per position; extra lines are hidden (nothing to do if unchanged)."""
        if np.array_equal(positions, self.positions()):
            return
        self.reserve(positions.size)
        for index, line in enumerate(self.lines):
            visible = index < positions.size
            if visible:
                line.setValue(float(positions[index]))
            line.setVisible(visible)

    def positions(self) -> list[float]:
        """Where the visible markers are."""
        return [line.value() for line in self.lines if line.isVisible()]


def _axes() -> dict[str, pg.AxisItem]:
    """Value axes, which keep their size when their labels appear (no re-layout mid-run)."""
    return {"left": theme.ValueAxis("left"), "bottom": theme.ValueAxis("bottom")}


class TrainCurves(QWidget):
    """Loss (log axis) above accuracy, against epochs, for a run and its baseline."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = pg.GraphicsLayoutWidget()
        self.loss = plot_item(enableMenu=False, axisItems=_axes())
        self.accuracy = plot_item(enableMenu=False, axisItems=_axes())
        self.canvas.addItem(self.loss, row=0, col=0)
        self.canvas.addItem(self.accuracy, row=1, col=0)
        for plot, title, label in (
            (self.loss, "Mini-batch loss (thin) and its running mean", "loss (log axis)"),
            (self.accuracy, "Accuracy at the end of each epoch", "accuracy (%)"),
        ):
            theme.style_plot(plot, grid=False)
            plot.getAxis("left").setWidth(AXIS_PX)
            theme.show_values(plot, False)
            plot.setTitle(f"<span style='font-size:10pt'>{title}</span>")
            plot.setLabel("bottom", "epoch")
            plot.setLabel("left", label)
            plot.addLegend(offset=(-8, 8) if plot is self.loss else (-8, -8), labelTextSize="8pt",
                           brush=pg.mkBrush(255, 255, 255, 190))  # fmt: skip
        self.loss.setLogMode(y=True)
        self.runs = [
            RunCurves(self.loss, self.accuracy, RUN_COLOURS[0], "RMT-pruned"),
            RunCurves(self.loss, self.accuracy, RUN_COLOURS[1], "baseline"),
        ]
        self._add_cut_legend()
        self.markers = [CutMarkers(self.loss), CutMarkers(self.accuracy)]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

    def _add_cut_legend(self) -> None:
        """A legend entry for the cut markers (a sample line, not drawn in the plot)."""
        sample = pg.PlotDataItem(pen=theme.pen(theme.MANUAL, 1.3, Qt.PenStyle.DashLine))
        self.loss.legend.addItem(sample, "pruning cut")

    def reset(self, epochs: int) -> None:
        """Empty plots framing ``epochs`` (the x range stays put while the run fills it)."""
        for curves in self.runs:
            curves.show_loss(None)
            curves.show_accuracy(None)
        for markers in self.markers:
            markers.show(np.zeros(0))
            markers.reserve(min(epochs + 1, RESERVED_MARKERS))
        for plot in (self.loss, self.accuracy):
            theme.show_values(plot, False)
            plot.disableAutoRange()
            plot.setXRange(0, max(epochs, 1), padding=0.03)

    def show(self, runs: list[RunState]) -> None:
        """Draw both plots (:meth:`show_loss`, then :meth:`show_accuracy`)."""
        self.show_loss(runs)
        self.show_accuracy(runs)

    def show_loss(self, runs: list[RunState]) -> None:
        """Draw the losses of the pruned run (first) and the baseline, and the pruned run's cuts.

        The accuracy plot is drawn apart (:meth:`show_accuracy`): the UI draws the two in
        separate frames, so that an epoch's end never doubles one frame's cost.
        """
        pruned, baseline = split_runs(runs)
        losses = np.concatenate([self.runs[0].show_loss(pruned), self.runs[1].show_loss(baseline)])
        self.markers[0].show(cut_positions(pruned))
        losses = np.log10(losses[losses > 0])
        theme.show_values(self.loss, bool(losses.size))
        if losses.size:
            frame_y(self.loss, float(losses.min()), float(losses.max()), AHEAD, MARGIN)

    def show_accuracy(self, runs: list[RunState]) -> None:
        """Draw the epoch accuracies of the pruned run and the baseline, and the cuts."""
        pruned, baseline = split_runs(runs)
        changed = self.runs[0].show_accuracy(pruned) | self.runs[1].show_accuracy(baseline)
        self.markers[1].show(cut_positions(pruned))
        if not changed:
            return
        shown = [run for run in (pruned, baseline) if run is not None and run.steps]
        accuracy = [
            np.concatenate([run.accuracy_curves()[1], accuracy_points(run)[1]]) for run in shown
        ]
        accuracy = [values for values in accuracy if values.size]
        theme.show_values(self.accuracy, bool(accuracy))
        if accuracy:
            values = np.concatenate(accuracy)
            low, high = float(values.min()), float(values.max())
            frame_y(self.accuracy, low, high, MARGIN, AHEAD, MIN_ACCURACY_SPAN)
