"""Where a pyqtgraph plot draws things, in scene coordinates: tick labels, histogram bars."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage, QPainter


def tick_label_rects(axis: pg.AxisItem) -> list[QRectF]:
    """The scene rectangles of the tick labels ``axis`` would draw now (pyqtgraph's own
    layout of them, from ``generateDrawSpecs``)."""
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        painter.setFont(axis.style["tickFont"] or axis.font())
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    if specs is None:
        return []
    return [axis.mapRectToScene(rect) for rect, _flags, text in specs[2] if text]


def overlapping(rects: list[QRectF]) -> list[tuple[QRectF, QRectF]]:
    """Every pair of ``rects`` that share more than a hairline."""
    return [
        (a, b)
        for i, a in enumerate(rects)
        for b in rects[i + 1 :]
        if a.intersected(b).width() > 0.5 and a.intersected(b).height() > 0.5
    ]


def bar_rects(plot: pg.PlotItem, edges: np.ndarray, density: np.ndarray) -> list[QRectF]:
    """The scene rectangles of a histogram's non-empty bars (``edges``, ``density`` in the
    plot's data coordinates)."""
    box = plot.vb
    rects = []
    for left, right, height in zip(edges[:-1], edges[1:], density, strict=True):
        if height > 0:
            top_left = box.mapViewToScene(QPointF(float(left), float(height)))
            bottom_right = box.mapViewToScene(QPointF(float(right), 0.0))
            rects.append(QRectF(top_left, bottom_right).normalized())
    return rects
