"""Colours, pens and pyqtgraph defaults shared by every plot, chosen to read well in print."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPen

HIST_FILL = QColor(76, 114, 176, 140)
HIST_LINE = QColor(52, 84, 140)
OVERLAY_LINE = QColor(120, 120, 120)
OVERLAY_FILL = QColor(150, 150, 150, 60)
MP_CURVE = QColor(196, 78, 82)
CUTOFF = QColor(30, 30, 30)
BULK_EDGE = QColor(110, 110, 110)
SPIKE = QColor(221, 132, 26)
MANUAL = QColor(129, 84, 171)
SWEEP = QColor(52, 84, 140)
GOOD = QColor(46, 139, 87)
POOR = QColor(200, 60, 40)
WARNING_BG = "#fff4ce"
ERROR_TEXT = "#b3261e"
HINT_TEXT = "#555"
LABEL_ROOM = 0.8
"""The share of the font's height pyqtgraph keeps for a horizontal axis's labels."""
LABEL_PX = 55
LABEL_CHARS = 5
"""A vertical value axis keeps room for labels this many digits wide (``0.005``, ``20000``)."""


def compact(count: int) -> str:
    """A parameter count in few characters: 9,876 / 291.6k / 1.23M."""
    if count < 10_000:
        return f"{count:,}"
    if count < 1_000_000:
        return f"{count / 1e3:.1f}k"
    return f"{count / 1e6:.2f}M"


def configure_pyqtgraph() -> None:
    """White plots, dark text, antialiased lines (set once, before any plot is made)."""
    pg.setConfigOptions(antialias=True, background="w", foreground=(40, 40, 40))


def pen(color: QColor, width: float = 1.5, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    """A cosmetic pen (constant width on screen whatever the zoom)."""
    result = pg.mkPen(color=color, width=width, style=style)
    result.setCosmetic(True)
    return result


def style_plot(plot: pg.PlotItem, grid: bool = True) -> None:
    """Readable axes on a plot, with a light grid unless ``grid`` is off.

    The grid is most of the cost of repainting a plot (~5 ms per axis offscreen), so live
    views that repaint often (training) go without it.
    """
    if grid:
        plot.showGrid(x=True, y=True, alpha=0.15)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.enableAutoSIPrefix(False)
        axis.setTextPen(pg.mkPen(60, 60, 60))
        axis.setPen(pg.mkPen(120, 120, 120))


def show_values(plot: pg.PlotItem, shown: bool) -> None:
    """Show or hide the tick labels of a plot's axes: an empty plot shows none (no stray "2").

    A :class:`ValueAxis` blanks its labels and keeps their room, so that a live plot's first
    data re-lays nothing (a re-layout repaints the plot twice in one frame); other axes drop the
    room with the labels.
    """
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        if isinstance(axis, ValueAxis):
            axis.set_blank(not shown)
        elif axis.style["showValues"] != shown:
            axis.setStyle(showValues=shown)


def values_shown(axis: pg.AxisItem) -> bool:
    """Whether ``axis`` labels its ticks (:func:`show_values`)."""
    if isinstance(axis, ValueAxis):
        return not axis.blank
    return bool(axis.style["showValues"])


class ValueAxis(pg.AxisItem):
    """An axis that, in log mode, labels real values at decades (and 2, 5 when zoomed in).

    pyqtgraph's own log axis labels every minor tick, which overlaps when the range spans
    less than a few decades; here minor ticks stay unlabelled, and a short axis (a small
    multiple) labels fewer decades, counted from the first one shown: at most one label per
    ``LABEL_PX`` pixels across (30 up).
    A range too short for two such labels gets the mantissas 1–9, or else evenly spaced values.
    With ``nonnegative`` no tick is drawn below zero (the spike rug's band of a spectrum).
    Label room is fixed from the start: a horizontal axis keeps the labels' height, a vertical
    one room for :data:`LABEL_CHARS` digits, so that new labels never re-lay a streaming plot.
    Ticks come in two levels: pyqtgraph's third, 30-45 faint ticks on a linear axis, made each
    re-range's tick layout three times dearer (2.8 ms against 0.9 on the accuracy axis).
    """

    MAJOR, MINOR = 1.0, 0.1
    STEPS = ((1,), (1, 2, 5), tuple(range(1, 10)))

    def __init__(self, orientation: str, nonnegative: bool = False, **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self.nonnegative = nonnegative
        self.blank = False
        self.setStyle(maxTickLevel=1, maxTextLevel=1)
        font = self.style["tickFont"] or self.font()
        if orientation in ("top", "bottom"):  # the labels' room, reserved before any is drawn
            self.setStyle(autoReduceTextSpace=False)
            self.textHeight = LABEL_ROOM * QFontMetricsF(font).height()
        else:  # room for LABEL_CHARS-wide labels: wider ones would re-lay the plot mid-stream
            width = QFontMetricsF(font).horizontalAdvance("0" * LABEL_CHARS)
            self.setStyle(autoExpandTextSpace=False, tickTextWidth=math.ceil(width))

    def set_blank(self, blank: bool) -> None:
        """Draw the ticks without labels (``blank``) or with them; the axis keeps its size."""
        if blank != self.blank:
            self.blank = blank
            self.picture = None
            self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        if not self.logMode:
            ticks = super().tickValues(minVal, maxVal, size)
            if not self.nonnegative:
                return ticks
            return [(spacing, [v for v in values if v >= 0]) for spacing, values in ticks]
        across = LABEL_PX if self.orientation in ("top", "bottom") else 30
        room = max(2, int(size / across))
        span = maxVal - minVal
        pad = 0.2 * across * span / max(size, 1.0)
        steps = self.STEPS[1] if span < 2.5 and 3 * span <= room else self.STEPS[0]
        for choice in dict.fromkeys((steps, self.STEPS[2], self.STEPS[0])):
            major, minor = self._log_ticks(minVal, maxVal, room, choice, pad)
            if 2 <= len(major) <= room:
                return [(self.MAJOR, major), (self.MINOR, minor)]
        return [(self.MAJOR, self._even_ticks(minVal, maxVal, size, room))]

    def _even_ticks(self, low: float, high: float, size: float, room: int) -> list[float]:
        """Evenly spaced values (pyqtgraph's linear choice, at most ``room``) at their log10
        positions: for a range too short for two mantissas."""
        self.logMode = False
        try:
            levels = pg.AxisItem.tickValues(self, 10.0**low, 10.0**high, size)
        finally:
            self.logMode = True
        for _, level in levels:
            values = [math.log10(v) for v in level if v > 0]
            if len(values) >= 2:
                return sorted(values)[:: max(1, math.ceil(len(values) / room))]
        return []

    @staticmethod
    def _log_ticks(
        low: float, high: float, room: int, steps: tuple[int, ...], pad: float
    ) -> tuple[list[float], list[float]]:
        """Labelled and unlabelled tick positions (log10 units) in ``[low, high]``; labels
        keep ``pad`` from either end (pyqtgraph drops a label that would stick out)."""
        lo, hi = math.floor(low), math.ceil(high)
        first, last = math.ceil(low + pad), math.floor(high - pad)
        every = max(1, math.ceil((last - first) / max(room - 1, 1)))
        major, minor = [], []
        for decade in range(lo, hi + 1):
            for mantissa in range(1, 10):
                value = decade + math.log10(mantissa)
                if not low <= value <= high:
                    continue
                inner = low + pad <= value <= high - pad
                step = mantissa != 1 or (decade - first) % every == 0
                labelled = inner and mantissa in steps and step
                (major if labelled else minor).append(value)
        return major, minor

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.blank:
            return [""] * len(values)
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        if spacing == self.MINOR:
            return [""] * len(values)
        return [f"{10.0**v:.3g}" if -3 <= v < 5 else f"{10.0**v:.2g}" for v in values]


def value_axes() -> dict[str, pg.AxisItem]:
    """Axis items for a spectrum plot: a bottom axis that may switch to log mode, and a
    density axis without ticks below zero."""
    return {"bottom": ValueAxis("bottom"), "left": ValueAxis("left", nonnegative=True)}
