"""The bounds of a one-item glyph: its data widened by its pens and cut to the view (what it
repaints), and the data's extent along an axis (what auto-range sees)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF


def padded_in_view(item: pg.GraphicsObject, bounds: QRectF, pad: float) -> QRectF:
    """``bounds`` (data units) widened by ``pad`` pixels on every side, then cut to the view
    that shows ``item``: an update repaints the plot's inside only, never its axes (the view
    clips its items anyway)."""
    px, py = item.pixelVectors()
    if px is None or py is None:
        rect = QRectF(bounds)
    else:
        dx = pad * (abs(px.x()) + abs(py.x()))
        dy = pad * (abs(px.y()) + abs(py.y()))
        rect = bounds.adjusted(-dx, -dy, dx, dy)
    view = item.getViewBox()
    shown = item.mapRectFromView(view.viewRect()) if isinstance(view, pg.ViewBox) else None
    return rect if shown is None else rect.intersected(shown)


def axis_extent(bounds: QRectF, axis: int) -> tuple[float, float]:
    """``bounds`` along ``axis`` (0: x, 1: y), as a view's auto-range asks an item for it."""
    return (bounds.left(), bounds.right()) if axis == 0 else (bounds.top(), bounds.bottom())
