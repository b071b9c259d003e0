"""The persistent graphics items that draw one spectrum in a pyqtgraph plot.

Created once per plot and updated with ``setData``/``setValue`` only (never ``clear()`` and
re-plot: docs/architecture.md §3). The big spectrum view and each small multiple use this class.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from rmt_gui.state.plot_data import SpectrumPlotData
from rmt_gui.ui import theme

RUG_BAND = 0.08
HEADROOM = 1.12
CURVE_CLIP = 2.5
SNUG = 0.75
LIVE_SLACK = (0.08, 0.25)
LIVE_SNUG_Y = 0.5
SIDE_ANCHORS = [(0, 0), (1, 0)]
CUTOFF_NAMES = {"eigen": "λ₊", "singular": "s₊"}


def cutoff_label(scale: str) -> str:
    """The BEMA cutoff's name on ``scale``: λ₊ on eigenvalues s²/n, s₊ on singular values."""
    return f"{CUTOFF_NAMES[scale]} BEMA"


def live_slack(x_range: tuple[float, float], top: float) -> tuple[tuple[float, float], float]:
    """A live view's new range, wider each side and higher than the data by ``LIVE_SLACK``
    (x, y): the next snapshots then still fit (a small layer's few-bin histogram jumps), and
    the axes, the dearest part of a repaint, stay put."""
    pad = LIVE_SLACK[0] * (x_range[1] - x_range[0])
    return (x_range[0] - pad, x_range[1] + pad), top * (1.0 + LIVE_SLACK[1])


def _line(color, style: Qt.PenStyle, label: str | None, position: float) -> pg.InfiniteLine:
    """A fixed vertical line with an optional label near the top of the plot.

    The label sits right of the line in the left half of the view and left of it in the
    right half, so that it is never cut off by the plot's edge.
    """
    line = pg.InfiniteLine(angle=90, movable=False, pen=theme.pen(color, 1.6, style))
    if label:
        line.label = pg.InfLineLabel(
            line, text=label, position=position, anchors=SIDE_ANCHORS, color=color.darker(120),
            fill=pg.mkBrush(255, 255, 255, 190),
        )  # fmt: skip
    return line


class SpectrumItems:
    """Histogram, MP curve, BEMA cutoff, MP edge and signal spikes of one layer.

    The spikes are a rug of short ticks in a band below the histogram's baseline (y < 0, the
    axis labels no negative density), so they mark each signal value without covering the
    histogram's tail.

    A ``live`` view (spectra streaming in during training) keeps its range while the data
    still fills most of it: re-ranging re-lays every tick and label, the dearest part of a frame.
    It also draws without antialiasing, which costs a fifth of every repaint.
    """

    def __init__(
        self, plot: pg.PlotItem, *, labels: bool = True, marker_size: int = 10, live: bool = False
    ) -> None:
        self.plot = plot
        self.live = live
        smooth = not live
        self.hist = pg.PlotDataItem(
            stepMode="center", fillLevel=0, brush=theme.HIST_FILL,
            pen=theme.pen(theme.HIST_LINE, 1), antialias=smooth,
        )  # fmt: skip
        self.curve = pg.PlotDataItem(pen=theme.pen(theme.MP_CURVE, 2.5), antialias=smooth)
        self.marks = pg.ScatterPlotItem(
            symbol="|", size=marker_size, pen=theme.pen(theme.SPIKE, 2), brush=None,
            antialias=smooth,
        )  # fmt: skip
        cutoff_text = cutoff_label("eigen") if labels else None
        self.cutoff = _line(theme.CUTOFF, Qt.PenStyle.DashLine, cutoff_text, 0.95)
        self.edge = _line(theme.BULK_EDGE, Qt.PenStyle.DotLine, "MP edge" if labels else None, 0.8)
        for item in (self.hist, self.curve, self.marks):
            plot.addItem(item)
        plot.addItem(self.cutoff, ignoreBounds=True)
        plot.addItem(self.edge, ignoreBounds=True)
        plot.disableAutoRange()
        self.data: SpectrumPlotData | None = None

    def update(self, data: SpectrumPlotData | None) -> None:
        """Show ``data`` (or nothing) and fit the view to it."""
        self.data = data
        shown = data is not None
        for line in (self.cutoff, self.edge):
            line.setVisible(shown)
        theme.show_values(self.plot, shown)
        if data is None:
            for item in (self.hist, self.curve, self.marks):
                item.setData([], [])
            return
        self.hist.setData(data.edges, data.density)
        self.curve.setData(data.curve_x, data.curve_y)
        top = self.y_top(data)
        self.marks.setData(data.spikes, np.full(data.spikes.size, -0.5 * RUG_BAND * top))
        label = getattr(self.cutoff, "label", None)
        if label is not None:
            label.setFormat(cutoff_label(data.options.scale))
        self.cutoff.setValue(data.cutoff)
        self.edge.setValue(data.bulk_edge)
        self.fit_view(force=not self.live)

    @staticmethod
    def y_top(data: SpectrumPlotData) -> float:
        """Top of the y range: the histogram with headroom; the curve unless it diverges."""
        hist_top = float(data.density.max()) if data.density.size else 1.0
        curve_top = float(data.curve_y.max()) if data.curve_y.size else 0.0
        top = max(hist_top, curve_top) if curve_top < CURVE_CLIP * hist_top else hist_top
        return HEADROOM * top if top > 0 else 1.0

    def fit_view(self, force: bool = True) -> None:
        """Frame the histogram, spikes and both lines (unless ``force`` is off and they fit)."""
        data = self.data
        if data is None:
            return
        xs = [data.edges[0], data.edges[-1], data.cutoff, data.bulk_edge]
        lo, hi = min(xs), max(xs)
        width = hi - lo if hi > lo else 1.0
        right = 0.12 if max(data.cutoff, data.bulk_edge) >= data.edges[-1] else 0.04
        x_range = (lo - 0.04 * width, hi + right * width)
        top = self.y_top(data)
        if not force:
            if self._frames(x_range, top):
                return
            x_range, top = live_slack(x_range, top)
        self.plot.setRange(xRange=x_range, yRange=(-RUG_BAND * top, top), padding=0)

    def _frames(self, x_range: tuple[float, float], top: float) -> bool:
        """Whether the current view holds ``x_range`` and ``top`` (and the rug band) snugly."""
        (x0, x1), (y0, y1) = self.plot.viewRange()
        inside = x0 <= x_range[0] and x_range[1] <= x1 and top <= y1 and y0 <= -RUG_BAND * top
        snug = x_range[1] - x_range[0] >= SNUG * (x1 - x0) and top >= LIVE_SNUG_Y * y1
        return inside and snug
