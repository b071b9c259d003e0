"""One graphics item that paints a spectrum: the histogram, the MP curve and the spike rug.

pyqtgraph's ``PlotDataItem`` and ``ScatterPlotItem`` each spend about half a millisecond in
Python per ``setData`` and as much again per paint (dataset bookkeeping, bounds with pixel
padding, the symbol atlas); a live view redraws all three five times a second. Here one
``set_data`` builds three ``QPainterPath``\\ s with pyqtgraph's vectorised ``arrayToQPath`` and
one ``paint`` draws them, which makes a frame of the Train tab's spectrum a third cheaper
(docs/architecture.md §3). Coordinates are the plotted axis units of
:class:`~rmt_gui.state.plot_data.SpectrumPlotData` (``log10`` on a log axis, as given).

Each part keeps a legend key (:meth:`SpectrumGlyph.key`): clicking the key in a legend hides or
shows that part, as pyqtgraph's legend does for its own items.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath

from rmt_gui.ui import theme
from rmt_gui.ui.glyph_bounds import axis_extent, padded_in_view

PARTS = ("histogram", "curve", "spikes")
CURVE_WIDTH = 2.5
SPIKE_WIDTH = 3.0
"""A tick's width: as wide as pyqtgraph draws a ``"|"`` symbol with a 2-pixel pen (the key's)."""
EMPTY = np.zeros(0)


def step_outline(edges: NDArray[np.float64], density: NDArray[np.float64]) -> QPainterPath:
    """A histogram's outline from the baseline up and along each bar and back down: filling it
    fills the bars, stroking it draws their tops and the outer sides (``len(edges) = bins + 1``).
    """
    if density.size == 0:
        return QPainterPath()
    x = np.repeat(edges, 2)
    y = np.concatenate(([0.0], np.repeat(density, 2), [0.0]))
    return pg.arrayToQPath(x, y)


def finite_bounds(values: NDArray[np.float64]) -> tuple[float, float] | None:
    """The least and greatest finite value, or ``None`` when there is none."""
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else None


class _PartToggle:
    """A legend key for one part of a glyph: its ``setVisible`` (its legend entry was clicked)
    also shows or hides that part."""

    def __init__(self, glyph: SpectrumGlyph, part: str, **opts: object) -> None:
        super().__init__(**opts)  # type: ignore[call-arg]
        self.glyph, self.part = glyph, part

    def setVisible(self, visible: bool) -> None:
        super().setVisible(visible)  # type: ignore[misc]
        self.glyph.show_part(self.part, visible)


class _LineKey(_PartToggle, pg.PlotDataItem):
    """The legend sample of the histogram (a filled corner) or the curve (a line)."""


class _SpikeKey(_PartToggle, pg.ScatterPlotItem):
    """The legend sample of the spike rug (a tick)."""


class SpectrumGlyph(pg.GraphicsObject):
    """Histogram (filled steps), MP curve and spikes (ticks ``marker_size`` pixels tall at
    ``rug_y``) of one spectrum, in one item; ``antialias`` off for live views."""

    def __init__(self, marker_size: int = 10, antialias: bool = True) -> None:
        super().__init__()
        self.marker_size = marker_size
        self.antialias = antialias
        self.hist_pen = theme.pen(theme.HIST_LINE, 1)
        self.hist_brush = pg.mkBrush(theme.HIST_FILL)
        self.curve_pen = theme.pen(theme.MP_CURVE, CURVE_WIDTH)
        self.spike_pen = theme.pen(theme.SPIKE, SPIKE_WIDTH)
        self.spike_pen.setCapStyle(Qt.PenCapStyle.FlatCap)  # a tick exactly marker_size tall
        self.shown = dict.fromkeys(PARTS, True)
        self._keys = {
            "histogram": _LineKey(self, "histogram", pen=self.hist_pen, fillLevel=0,
                                  fillBrush=self.hist_brush),
            "curve": _LineKey(self, "curve", pen=self.curve_pen),
            "spikes": _SpikeKey(self, "spikes", symbol="|", size=marker_size, brush=None,
                                pen=theme.pen(theme.SPIKE, 2)),
        }  # fmt: skip
        self._hist = (EMPTY, EMPTY)
        self._curve = (EMPTY, EMPTY)
        self._spikes = (EMPTY, 0.0)
        self._outline = QPainterPath()
        self._curve_path = QPainterPath()
        self._rug: tuple[float, QPainterPath] = (0.0, QPainterPath())
        self._bounds = QRectF()
        self._rect: QRectF | None = None

    def set_data(
        self,
        edges: NDArray[np.float64],
        density: NDArray[np.float64],
        curve_x: NDArray[np.float64],
        curve_y: NDArray[np.float64],
        spikes: NDArray[np.float64],
        rug_y: float,
    ) -> None:
        """Show a histogram (``edges`` has one more entry than ``density``), a curve and the
        spikes' positions, the rug's ticks centred at height ``rug_y``."""
        if edges.size != density.size + 1 and density.size:
            raise ValueError(f"{edges.size} bin edges for {density.size} bins")
        self.prepareGeometryChange()  # while boundingRect still gives the old area
        self._hist, self._curve = (edges, density), (curve_x, curve_y)
        self._spikes = (spikes, rug_y)
        self._outline = step_outline(edges, density)
        self._curve_path = pg.arrayToQPath(curve_x, curve_y, connect="finite")
        self._rug = (0.0, QPainterPath())
        self._bounds = self._data_rect()
        self._rect = None
        self.update()

    def clear(self) -> None:
        """Show nothing."""
        self.set_data(EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, 0.0)

    def histogram(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The bin edges and densities shown."""
        return self._hist

    def curve(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The curve's points."""
        return self._curve

    def spikes(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The rug's ticks: their positions and heights (all at the rug's height)."""
        x, y = self._spikes
        return x, np.full(x.size, y)

    def key(self, part: str) -> pg.GraphicsObject:
        """The legend sample of ``part`` (one of :data:`PARTS`)."""
        return self._keys[part]

    def show_part(self, part: str, shown: bool) -> None:
        """Draw ``part`` or leave it out."""
        if self.shown[part] != shown:
            self.shown[part] = shown
            self.update()

    def _data_rect(self) -> QRectF:
        """What the parts cover, in data units (the curve's non-finite points left out)."""
        (edges, density), (curve_x, curve_y), (spikes, rug_y) = (
            self._hist,
            self._curve,
            self._spikes,
        )
        xs = [b for b in (finite_bounds(edges), finite_bounds(curve_x), finite_bounds(spikes)) if b]
        ys = [b for b in (finite_bounds(density), finite_bounds(curve_y)) if b]
        if not xs:
            return QRectF()
        ys += [(0.0, 0.0)] + ([(rug_y, rug_y)] if spikes.size else [])
        x0, x1 = min(b[0] for b in xs), max(b[1] for b in xs)
        y0, y1 = min(b[0] for b in ys), max(b[1] for b in ys)
        return QRectF(x0, y0, x1 - x0, y1 - y0)

    def boundingRect(self) -> QRectF:
        """The data's rectangle, widened by the widest pen and half a tick (in pixels), and cut
        to the view: an update then repaints the plot's inside only, never its axes (the view
        clips its items anyway; :meth:`dataBounds` still gives the whole data)."""
        if self._rect is None:
            self._rect = padded_in_view(self, self._bounds, self.pixelPadding())
        return self._rect

    def dataBounds(
        self, axis: int, frac: float = 1.0, orthoRange: object = None
    ) -> tuple[float, float] | None:
        """The data's extent along ``axis`` (0: x, 1: y), for a view's auto-range."""
        return None if self._bounds.isNull() else axis_extent(self._bounds, axis)

    def pixelPadding(self) -> float:
        """Pixels drawn beyond the data: half the widest pen or tick."""
        return 0.5 * max(self.marker_size, CURVE_WIDTH) + 1.0

    def viewTransformChanged(self) -> None:
        """A zoom changes how many data units a pixel of padding is."""
        self.prepareGeometryChange()
        self._rect = None

    def paint(self, painter: QPainter, *args: object) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, self.antialias)
        if self.shown["histogram"] and not self._outline.isEmpty():
            painter.fillPath(self._outline, self.hist_brush)
            painter.setPen(self.hist_pen)
            painter.drawPath(self._outline)
        if self.shown["curve"] and not self._curve_path.isEmpty():
            painter.setPen(self.curve_pen)
            painter.drawPath(self._curve_path)
        if self.shown["spikes"] and self._spikes[0].size:
            painter.setPen(self.spike_pen)
            painter.drawPath(self._rug_path(abs(painter.transform().m22())))

    def _rug_path(self, pixels_per_unit: float) -> QPainterPath:
        """The spikes' ticks, ``marker_size`` pixels tall at this zoom (kept until it changes)."""
        scale, path = self._rug
        if pixels_per_unit in (scale, 0.0):
            return path
        x, y = self._spikes
        half = 0.5 * self.marker_size / pixels_per_unit
        path = pg.arrayToQPath(np.repeat(x, 2), np.tile([y - half, y + half], x.size),
                               connect="pairs")  # fmt: skip
        self._rug = (pixels_per_unit, path)
        return path
