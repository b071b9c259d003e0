"""Colours, pens and pyqtgraph defaults shared by every plot, chosen to read well in print."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen

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
LABEL_PX = 55


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


class ValueAxis(pg.AxisItem):
    """An axis that, in log mode, labels real values at decades (and 2, 5 when zoomed in).

    pyqtgraph's own log axis labels every minor tick, which overlaps when the range spans
    less than a few decades; here minor ticks stay unlabelled, and a short axis (a small
    multiple) labels fewer decades: at most one label per ``LABEL_PX`` pixels across (30 up).
    """

    MAJOR, MINOR = 1.0, 0.1

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = math.floor(minVal), math.ceil(maxVal)
        decades = range(lo, hi + 1)
        room = max(2, int(size / (LABEL_PX if self.orientation in ("top", "bottom") else 30)))
        span = maxVal - minVal
        steps = (1, 2, 5) if span < 2.5 and 3 * span <= room else (1,)
        every = max(1, math.ceil((hi - lo) / room))
        major, minor = [], []
        for decade in decades:
            for mantissa in range(1, 10):
                value = decade + math.log10(mantissa)
                if not minVal <= value <= maxVal:
                    continue
                labelled = mantissa in steps and (mantissa != 1 or decade % every == 0)
                (major if labelled else minor).append(value)
        return [(self.MAJOR, major), (self.MINOR, minor)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        if spacing == self.MINOR:
            return [""] * len(values)
        return [f"{10.0**v:.3g}" if -3 <= v < 5 else f"{10.0**v:.0e}" for v in values]


def value_axes() -> dict[str, pg.AxisItem]:
    """Axis items for a plot whose bottom axis may switch to log mode."""
    return {"bottom": ValueAxis("bottom")}
