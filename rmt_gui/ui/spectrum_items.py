"""The persistent graphics items that draw one spectrum in a pyqtgraph plot.

Created once per plot and updated with ``setData``/``setValue`` only (never ``clear()`` and
re-plot: docs/architecture.md §3). The big spectrum view and each small multiple use this class.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsSimpleTextItem

from rmt_gui.state.plot_data import SpectrumPlotData
from rmt_gui.ui import theme
from rmt_gui.ui.spectrum_glyph import SpectrumGlyph

RUG_BAND = 0.08
HEADROOM = 1.12
CURVE_CLIP = 2.5
SNUG = 0.75
LIVE_SLACK = (0.08, 0.25)
LIVE_SNUG_Y = 0.5
SIDE_ANCHORS = [(0, 0), (1, 0)]
CUTOFF_NAMES = {"eigen": "λ₊", "singular": "s₊"}
TAG_PT = 9
TAG_GAP = 6
EDGE_TAG = "MP edge"


def cutoff_label(scale: str) -> str:
    """The BEMA cutoff's name on ``scale``: λ₊ on eigenvalues s²/n, s₊ on singular values."""
    return f"{CUTOFF_NAMES[scale]} BEMA"


def live_slack(x_range: tuple[float, float], top: float) -> tuple[tuple[float, float], float]:
    """A live view's new range, wider each side and higher than the data by ``LIVE_SLACK``
    (x, y): the next snapshots then still fit (a small layer's few-bin histogram jumps), and
    the axes, the dearest part of a repaint, stay put."""
    pad = LIVE_SLACK[0] * (x_range[1] - x_range[0])
    return (x_range[0] - pad, x_range[1] + pad), top * (1.0 + LIVE_SLACK[1])


def _line(color: QColor, style: Qt.PenStyle) -> pg.InfiniteLine:
    """A fixed vertical line in ``color`` and ``style``."""
    return pg.InfiniteLine(angle=90, movable=False, pen=theme.pen(color, 1.6, style))


def spread(centres: list[float], widths: list[float], low: float, high: float) -> list[float]:
    """Left edges for labels of ``widths`` centred on ``centres`` (in increasing order) within
    ``[low, high]``, each at least :data:`TAG_GAP` from the next: a label that would overlap
    its neighbour or stick out is pushed aside, the order kept.

    Labels wider in all than the band overlap only at its left end (a band that narrow holds
    no readable plot).
    """
    lefts = [min(max(c - w / 2, low), high - w) for c, w in zip(centres, widths, strict=True)]
    for i in range(1, len(lefts)):
        lefts[i] = max(lefts[i], lefts[i - 1] + widths[i - 1] + TAG_GAP)
    for i in range(len(lefts) - 1, -1, -1):
        ceiling = high if i == len(lefts) - 1 else lefts[i + 1] - TAG_GAP
        lefts[i] = max(min(lefts[i], ceiling - widths[i]), low)
    return lefts


class LineTags:
    """The names of the cutoff lines in a band above the plot's data area.

    Inside the data area a name would cover bars of the histogram; above it, each name is
    centred over its line and pushed aside just enough that none covers another or sticks out
    of the plot (:func:`spread`). A line outside the visible range has its name hidden.
    """

    def __init__(self, plot: pg.PlotItem, lines: list[tuple[pg.InfiniteLine, str]]) -> None:
        self.plot = plot
        self.lines = [line for line, _ in lines]
        font = QFont()
        font.setPointSize(TAG_PT)
        self.items: list[QGraphicsSimpleTextItem] = []
        for line, text in lines:
            item = QGraphicsSimpleTextItem(text, plot)
            item.setFont(font)
            item.setBrush(line.pen.color().darker(120))
            self.items.append(item)
            line.sigPositionChanged.connect(self.place)
        self.height = max(item.boundingRect().height() for item in self.items) + 2
        self._held = False
        plot.vb.sigXRangeChanged.connect(self.place)
        plot.vb.sigResized.connect(self.place)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Place the names once, after the block: moving both lines and the range would place
        them three times, a third of a live frame's label work."""
        self._held = True
        try:
            yield
        finally:
            self._held = False
            self.place()

    def set_texts(self, texts: list[str]) -> None:
        """Rename the lines (the cutoff's name follows the scale) and re-place the names."""
        for item, text in zip(self.items, texts, strict=True):
            item.setText(text)
        self.place()

    def place(self) -> None:
        """Put every shown line's name over the line, above the data area, apart."""
        if self._held:
            return
        box = self.plot.vb
        frame = box.geometry()
        (x0, x1), _ = box.viewRange()
        shown = [
            (line, item) for line, item in zip(self.lines, self.items, strict=True)
            if line.isVisible() and x0 <= line.value() <= x1
        ]  # fmt: skip
        for item in self.items:
            item.setVisible(any(item is tag for _, tag in shown))
        if not shown:
            return
        shown.sort(key=lambda pair: pair[0].value())
        centres = [
            self.plot.mapFromScene(box.mapViewToScene(QPointF(line.value(), 0.0))).x()
            for line, _ in shown
        ]
        widths = [item.boundingRect().width() for _, item in shown]
        lefts = spread(centres, widths, 0.0, self.plot.size().width())
        for (_, item), left in zip(shown, lefts, strict=True):
            item.setPos(left, frame.top() - self.height)


class SpectrumItems:
    """Histogram, MP curve and signal spikes (one :class:`SpectrumGlyph`), BEMA cutoff and MP
    edge of one layer.

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
        self.glyph = SpectrumGlyph(marker_size=marker_size, antialias=not live)
        self.cutoff = _line(theme.CUTOFF, Qt.PenStyle.DashLine)
        self.edge = _line(theme.BULK_EDGE, Qt.PenStyle.DotLine)
        plot.addItem(self.glyph)
        plot.addItem(self.cutoff, ignoreBounds=True)
        plot.addItem(self.edge, ignoreBounds=True)
        plot.disableAutoRange()
        self.tags: LineTags | None = None
        if labels:
            self.tags = LineTags(plot, [(self.cutoff, cutoff_label("eigen")),
                                        (self.edge, EDGE_TAG)])  # fmt: skip
            self.reserve(0.0)
        self.data: SpectrumPlotData | None = None

    def reserve(self, above: float) -> None:
        """Make room over the data area for ``above`` pixels (a legend) and the lines' names."""
        band = self.tags.height if self.tags is not None else 0.0
        self.plot.layout.setRowFixedHeight(0, above + band)

    def update(self, data: SpectrumPlotData | None) -> None:
        """Show ``data`` (or nothing) and fit the view to it."""
        self.data = data
        shown = data is not None
        for line in (self.cutoff, self.edge):
            line.setVisible(shown)
        theme.show_values(self.plot, shown)
        if data is None:
            if self.tags is not None:
                self.tags.place()
            self.glyph.clear()
            return
        top = self.y_top(data)
        self.glyph.set_data(data.edges, data.density, data.curve_x, data.curve_y, data.spikes,
                            -0.5 * RUG_BAND * top)  # fmt: skip
        if self.tags is None:
            self._move_lines(data)
            return
        with self.tags.held():
            self._move_lines(data)
            self.tags.set_texts([cutoff_label(data.options.scale), EDGE_TAG])

    def _move_lines(self, data: SpectrumPlotData) -> None:
        """The cutoff and the MP edge at ``data``'s values, in a view that frames them."""
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
