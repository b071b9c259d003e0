"""One graphics item that marks a run's epochs in the accuracy plot: a dot at each epoch's test
accuracy, a square at its train accuracy.

pyqtgraph's symbols (a ``ScatterPlotItem`` under each curve, with its own bookkeeping per
``setData`` and per paint) were about half of an epoch's accuracy frame: drawing it took
5.0 ms with them and 2.1 ms without, painting it 7.9 and 4.9 (measured offscreen). Here a
cosmetic pen as wide as a marker draws every marker of a kind with one ``drawPoints`` call.
Coordinates are the plot's (epochs, accuracy in %).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from pyqtgraph import functions as fn
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF

from rmt_gui.ui import theme
from rmt_gui.ui.glyph_bounds import axis_extent, padded_in_view

MARKER_PX = 6.0
KINDS = ("test", "train")
CAPS = {"test": Qt.PenCapStyle.RoundCap, "train": Qt.PenCapStyle.SquareCap}
SYMBOLS = {"test": "o", "train": "s"}
"""The pyqtgraph symbol a legend draws for each kind (the same shape as the markers)."""
Points = tuple[NDArray[np.float64], NDArray[np.float64]]


def marker_pen(colour: QColor, kind: str) -> QPen:
    """A pen whose every point is a marker of ``kind``, :data:`MARKER_PX` wide on screen."""
    pen = theme.pen(colour, MARKER_PX)
    pen.setCapStyle(CAPS[kind])
    return pen


class EpochMarkers(pg.GraphicsObject):
    """The test and train markers of one run, in one item."""

    def __init__(self, colour: QColor) -> None:
        super().__init__()
        self.pens = {kind: marker_pen(colour, kind) for kind in KINDS}
        self.shown = dict.fromkeys(KINDS, True)
        self._points: dict[str, Points] = dict.fromkeys(KINDS, (np.zeros(0), np.zeros(0)))
        self._polygons = dict.fromkeys(KINDS, QPolygonF())
        self._bounds: QRectF | None = None
        self._rect: QRectF | None = None

    def set_points(self, test: Points, train: Points) -> None:
        """Mark these epochs (``(x, y)`` arrays per kind; empty arrays mark none)."""
        self.prepareGeometryChange()
        for kind, given in zip(KINDS, (test, train), strict=True):
            x, y = (np.asarray(values, dtype=float) for values in given)
            self._points[kind] = (x, y)
            self._polygons[kind] = fn.arrayToQPolygonF(x, y) if x.size else QPolygonF()
        xs = np.concatenate([self._points[kind][0] for kind in KINDS])
        ys = np.concatenate([self._points[kind][1] for kind in KINDS])
        self._bounds = (
            QRectF(xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min())
            if xs.size
            else None
        )
        self._rect = None
        self.update()

    def points(self, kind: str) -> Points:
        """The marked epochs and accuracies of ``kind`` (``"test"`` or ``"train"``)."""
        return self._points[kind]

    def show_kind(self, kind: str, shown: bool) -> None:
        """Draw the markers of ``kind`` or leave them out (its legend entry was clicked)."""
        if self.shown[kind] != shown:
            self.shown[kind] = shown
            self.update()

    def boundingRect(self) -> QRectF:
        if self._rect is None:
            bounds = QRectF() if self._bounds is None else self._bounds
            self._rect = padded_in_view(self, bounds, 0.5 * MARKER_PX + 1.0)
        return self._rect

    def dataBounds(
        self, axis: int, frac: float = 1.0, orthoRange: object = None
    ) -> tuple[float, float] | None:
        """The markers' extent along ``axis`` (0: x, 1: y), for a view's auto-range."""
        return None if self._bounds is None else axis_extent(self._bounds, axis)

    def viewTransformChanged(self) -> None:
        """A zoom changes how many data units a marker's pixels are."""
        self.prepareGeometryChange()
        self._rect = None

    def paint(self, painter: QPainter, *args: object) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for kind in KINDS:
            if self.shown[kind] and not self._polygons[kind].isEmpty():
                painter.setPen(self.pens[kind])
                painter.drawPoints(self._polygons[kind])


class EpochKey(pg.PlotDataItem):
    """The legend sample of a run's test or train curve (line and marker): clicking it in the
    legend shows or hides that curve and its markers, as pyqtgraph's legend does for a curve."""

    def __init__(self, curve: pg.PlotDataItem, markers: EpochMarkers, kind: str,
                 colour: QColor) -> None:  # fmt: skip
        super().__init__(
            pen=curve.opts["pen"], symbol=SYMBOLS[kind], symbolSize=MARKER_PX,
            symbolBrush=pg.mkBrush(colour), symbolPen=None,
        )  # fmt: skip
        self.curve, self.markers, self.kind = curve, markers, kind

    def setVisible(self, visible: bool) -> None:
        super().setVisible(visible)
        self.curve.setVisible(visible)
        self.markers.show_kind(self.kind, visible)
