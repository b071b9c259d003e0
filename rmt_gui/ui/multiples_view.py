"""All layers side by side (small multiples), each with its MP fit, cutoff and spikes.

The grid is laid out again only when the list of layers changes (a pruning step that
factorises a layer), and then reuses the plots it already has: a plot costs ~20 ms to make,
so a live view (training) would stutter if every factorisation built them all anew. Otherwise
each cell's persistent items are updated in place.
"""

from __future__ import annotations

import html
import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QFontMetricsF, QTextOption
from PySide6.QtWidgets import QGraphicsTextItem, QLabel, QScrollArea, QVBoxLayout, QWidget

from rmt_gui.state.layer_names import short_names
from rmt_gui.state.plot_data import PlotOptions, plot_data
from rmt_gui.ui import theme
from rmt_gui.ui.name_elide import elide_name
from rmt_gui.ui.spectrum_items import SpectrumItems
from rmt_gui.ui.theme import ValueAxis
from rmt_gui.ui.view_box import plot_item

ROW_HEIGHT = 230
TITLE_HEIGHT = 40
TITLE_PT = 9
NAME = "{name}"
NICE = (1.0, 2.0, 5.0)
LIVE_COLUMNS = 3
"""A live grid (training) keeps at least this many columns."""
TICK_GAP = 8
TICK_GAP_UP = 20
OVERHANG = 10


def nice_spacings(span: float) -> list[float]:
    """Candidate tick spacings for a range ``span`` wide, smallest first: 1, 2, 5 × 10^k from
    a hundredth of the span up to the span itself."""
    if not span > 0:
        return []
    low = math.floor(math.log10(span)) - 2
    return [m * 10.0**k for k in range(low, low + 4) for m in NICE if m * 10.0**k <= span] or [span]


class CellAxis(ValueAxis):
    """A small multiple's axis: as few labelled ticks as keep every label clear of the next.

    On a linear axis the labels sit at the smallest nice spacing (:func:`nice_spacings`) whose
    labels, at this axis's length in pixels, leave :data:`TICK_GAP` between neighbours (the
    roomier :data:`TICK_GAP_UP` up the density axis), two labels at least where any spacing
    gives two; a log axis labels the decades that fit so, or else 1-2-5 or every mantissa.
    Only the first tick level is labelled, so that no finer level squeezes labels in between.
    A label may hang :data:`OVERHANG` pixels past either end of a horizontal axis (into the
    empty corner under the value axis); one that would stick out further is not counted
    (pyqtgraph hides it).
    """

    def __init__(self, orientation: str, nonnegative: bool = False) -> None:
        super().__init__(orientation, nonnegative=nonnegative)
        across = orientation in ("top", "bottom")
        self.overhang = OVERHANG if across else 0
        self.gap = TICK_GAP if across else TICK_GAP_UP
        self.setStyle(maxTextLevel=0, hideOverlappingLabels=self.overhang)

    def boundingRect(self) -> QRectF:
        """pyqtgraph's rectangle, widened by the overhang (labels outside it are dropped)."""
        return super().boundingRect().adjusted(-self.overhang, 0, self.overhang, 0)

    def extents(self, texts: list[str]) -> list[float]:
        """Pixels each of ``texts`` takes along this axis (its width across, its height up)."""
        metrics = QFontMetricsF(self.style["tickFont"] or self.font())
        if self.orientation in ("top", "bottom"):
            return [metrics.horizontalAdvance(text) for text in texts]
        return [metrics.height()] * len(texts)

    def clear(
        self, values: list[float], spacing: float, bounds: tuple[float, float], size: float
    ) -> list[float]:
        """The values whose labels lie on the axis, ``size`` pixels over ``bounds``, give or
        take the overhang (pyqtgraph drops the others), and, kept from the lowest up, each
        clear the last one."""
        kept: list[float] = []
        end = -math.inf
        low, high = bounds
        scale = size / (high - low)
        sizes = self.extents(self.tickStrings(values, 1.0, spacing))
        for value, extent in zip(values, sizes, strict=True):
            at = (value - low) * scale
            inside = -self.overhang <= at - extent / 2 and at + extent / 2 <= size + self.overhang
            if inside and at - extent / 2 >= end + self.gap:
                kept.append(value)
                end = at + extent / 2
        return kept

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        span = maxVal - minVal
        if size <= 0 or not span > 0:
            return []
        if self.logMode:
            return self._log_levels((minVal, maxVal), size)
        narrowest = self.extents(["0"])[0] + self.gap
        fallback: list = []
        for spacing in nice_spacings(span):
            if spacing * size / span < narrowest:
                continue
            start = math.ceil(minVal / spacing)
            values = [i * spacing for i in range(start, math.floor(maxVal / spacing) + 1)]
            if self.nonnegative:
                values = [v for v in values if v >= 0]
            kept = self.clear(values, spacing, (minVal, maxVal), size)
            first = values.index(kept[0]) if kept else 0
            if kept and values[first : first + len(kept)] == kept:
                fallback = fallback or [(spacing, kept)]
                if len(kept) >= 2:
                    return [(spacing, kept)]
        return fallback

    def _log_levels(self, bounds: tuple[float, float], size: float) -> list:
        """Labels at the decades that fit, else also at 2 and 5, else at every mantissa (the
        first choice with two clear labels); the other positions stay unlabelled ticks."""
        levels = super().tickValues(*bounds, size)
        positions = sorted(v for _, level in levels for v in level)
        labelled: list[float] = []
        for steps in self.STEPS:
            wanted = [v for v in positions if round(10.0 ** (v - math.floor(v))) in steps]
            labelled = self.clear(wanted or positions, self.MAJOR, bounds, size)
            if len(labelled) >= 2:
                break
        rest = [v for v in positions if v not in labelled]
        return [(self.MAJOR, labelled), (self.MINOR, rest)]


def cell_axes() -> dict[str, pg.AxisItem]:
    """The axes of a small multiple (:class:`CellAxis`), otherwise as a spectrum plot's."""
    return {"bottom": CellAxis("bottom"), "left": CellAxis("left", nonnegative=True)}


def columns_for(count: int) -> int:
    """Grid width: up to four plots a row, fewer for small models."""
    return max(1, min(count, 4 if count > 6 else 3))


def cell_title(report) -> tuple[str, str, str]:
    """The second line of a cell's title: shape, a note (n_signal) and the note's colour."""
    if report is None:
        return "", "…", theme.HINT_TEXT
    shape = f"{report.info.shape[0]}×{report.info.shape[1]}"
    if report.analysis is None:
        return shape, "no spectrum", theme.ERROR_TEXT
    fit = report.analysis.fit
    color = theme.GOOD.name() if fit.good_fit else theme.POOR.name()
    return shape, f"n_signal {fit.n_signal}/{fit.p}", color


class CellTitle:
    """A cell's two-line title as a text item over the plot's title row.

    The first line is the layer's name, elided to the cell's width (:func:`elide_name`, never
    wrapped mid-word onto the plot); the second, its shape (if it fits) and n_signal. The
    full name is the tooltip. pyqtgraph's own title asks the layout to recompute on every
    change (and n_signal changes at every snapshot while training); this item only repaints.
    """

    def __init__(self, plot: pg.PlotItem) -> None:
        plot.setTitle(" ")
        plot.titleLabel.setMaximumHeight(TITLE_HEIGHT)
        plot.layout.setRowFixedHeight(0, TITLE_HEIGHT)
        self.label = plot.titleLabel
        self.item = QGraphicsTextItem(self.label)
        self.item.document().setDocumentMargin(2)
        self.item.document().setDefaultTextOption(QTextOption(Qt.AlignmentFlag.AlignHCenter))
        font = QFont(self.item.font())
        font.setPointSize(TITLE_PT)
        self.item.setFont(font)
        bold = QFont(font)
        bold.setBold(True)
        small = QFont(font)
        small.setPointSize(TITLE_PT - 1)
        self.metrics = (QFontMetrics(bold), QFontMetrics(small))
        self.parts: tuple[str, ...] = ()
        self.html = ""
        self.label.geometryChanged.connect(self._fit)

    def set(self, name: str, shape: str, note: str, color: str, tooltip: str = "") -> None:
        """Show ``name`` (bold, elided to fit) over ``shape`` and ``note`` (in ``color``)."""
        parts = (name, shape, note, color)
        if parts != self.parts:
            self.parts = parts
            self.item.setToolTip(tooltip or name)
            self._fit()

    def _fit(self) -> None:
        """Elide the name to the cell's width, drop the shape if the second line is too long."""
        if not self.parts:
            return
        width = max(self.label.size().width(), 1.0)
        name, shape, note, color = self.parts
        bold, small = self.metrics
        room = max(int(width) - 8, 0)
        both = f"{shape} · {note}" if shape else note
        below = both if small.horizontalAdvance(both) <= room else note
        text = (
            f"<b>{html.escape(elide_name(name, bold, room))}</b><br>"
            f"<span style='font-size:{TITLE_PT - 1}pt; color:{color}'>{html.escape(below)}</span>"
        )
        self.item.setTextWidth(width)
        if text != self.html:
            self.html = text
            self.item.setHtml(text)


class MultiplesView(QWidget):
    """A scrollable grid with one small spectrum plot per layer; click a plot to select it.

    ``live`` (training) drops the grid lines and keeps each plot's range while it fits, as
    :class:`SpectrumItems` explains.
    """

    layerClicked = Signal(str)

    def __init__(
        self, options: PlotOptions, parent: QWidget | None = None, live: bool = False
    ) -> None:
        super().__init__(parent)
        self.options = options
        self.live = live
        self._pool: list[tuple[pg.PlotItem, SpectrumItems]] = []
        self._titles: dict[pg.PlotItem, CellTitle] = {}
        self._framed: str | None = None
        self._only: str | None = None
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.scene().sigMouseClicked.connect(self._clicked)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.canvas)
        self.hint = QLabel("Every layer at once: histogram, MP fit (red), BEMA cutoff (dashed), "
                           "signal spikes (orange). Click a plot to select its layer.")  # fmt: skip
        self.hint.setStyleSheet("color: #555;")
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        layout.addWidget(scroll, 1)
        self.cells: dict[str, tuple[pg.PlotItem, SpectrumItems]] = {}
        self._names: tuple[str, ...] = ()
        self._labels: dict[str, str] = {}
        self._wanted: list[str] = []
        self._reports: dict = {}
        self._selected = ""
        self._stale = False

    def _new_cell(self) -> tuple[pg.PlotItem, SpectrumItems]:
        plot = plot_item(enableMenu=False, axisItems=cell_axes())
        theme.style_plot(plot, grid=not self.live)
        plot.getAxis("left").setWidth(36)
        policy = plot.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        plot.setSizePolicy(policy)
        self._titles[plot] = CellTitle(plot)
        return plot, SpectrumItems(plot, labels=False, marker_size=7, live=self.live)

    def prepare(self, count: int) -> None:
        """Make ``count`` plots ahead of time (while nothing else is going on)."""
        while len(self._pool) < count:
            self._pool.append(self._new_cell())

    def _shape(self, count: int) -> tuple[int, int]:
        """Columns and plot slots of a grid for ``count`` layers: a live grid keeps at least
        :data:`LIVE_COLUMNS` columns and fills whole rows with hidden plots that hold their
        place, so a cut that factorises a layer only shows one more plot."""
        if not self.live:
            return columns_for(count), count
        cols = max(LIVE_COLUMNS, columns_for(count))
        return cols, math.ceil(count / cols) * cols

    def _place(self, cols: int, slots: int) -> None:
        """Put the first ``slots`` plots at their grid cells, moving only those in another
        place (moving plots re-lays the canvas)."""
        layout = self.canvas.ci
        self.prepare(slots)
        places = {index: (index // cols, index % cols) for index in range(slots)}
        for index, (plot, _) in enumerate(self._pool):
            now = layout.items.get(plot)
            if now is not None and (index not in places or now != [places[index]]):
                layout.removeItem(plot)
        for index in range(slots):
            plot = self._pool[index][0]
            if plot not in layout.items:
                layout.addItem(plot, *places[index])

    def place_ahead(self, count: int) -> None:
        """Lay out, hidden, the plots of a grid for ``count`` layers while none is shown yet:
        adding plots to the layout is the dearest part of a new grid (14 ms for three), so a
        live grid does it before its run streams, and its first spectra only fill plots in."""
        if self._names:
            return
        cols, slots = self._shape(count)
        self._place(cols, slots)
        for plot, _ in self._pool[:slots]:
            plot.setVisible(False)

    def _rebuild(self, names: tuple[str, ...]) -> None:
        """Lay out one plot per layer (only when the set of layers changed), reusing plots."""
        cols, slots = self._shape(len(names))
        self._place(cols, slots)
        self.cells = {}
        self._framed = None
        for index in range(slots):
            plot, items = self._pool[index]
            plot.vb.setBorder(None)
            plot.setVisible(index < len(names))
            if index < len(names):
                self.cells[names[index]] = (plot, items)
        rows = math.ceil(len(names) / cols) if names else 1
        self.canvas.setMinimumHeight(rows * ROW_HEIGHT)
        self._names = names
        self._labels = short_names(names)

    def set_reports(self, names: list[str], reports: dict, only: str | None = None) -> None:
        """Show the layers ``names`` with whatever reports have arrived (drawn when visible).

        With ``only``, just that cell is drawn now and the others are left blank, for
        :meth:`update_report` to fill in later (a live view spreads the work over frames).
        """
        self._wanted, self._reports, self._only = list(names), dict(reports), only
        self._stale = True
        if self.isVisible():
            self._refresh()

    def _refresh(self) -> None:
        """Bring the grid up to date (deferred while the tab is hidden: plots cost time)."""
        if not self._stale:
            return
        self._stale = False
        if tuple(self._wanted) != self._names:
            self._rebuild(tuple(self._wanted))
        for name in self._wanted:
            self._draw(name, blank=self._only is not None and name != self._only)
        self._only = None
        self.select(self._selected)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._refresh()

    def title(self, name: str) -> str:
        """The plain text of a cell's title."""
        plot, _ = self.cells[name]
        return self._titles[plot].item.toPlainText()

    @property
    def names(self) -> tuple[str, ...]:
        """The layers the grid shows now."""
        return self._names

    def update_report(self, name: str, report) -> None:
        """Redraw one cell when its layer's report arrives."""
        self._reports[name] = report
        if self._stale or not self.isVisible():
            self._stale = True
        elif name in self.cells:
            self._draw(name)

    def _draw(self, name: str, blank: bool = False) -> None:
        """Draw one cell; ``blank`` hides the cell, its place kept, until :meth:`update_report`
        fills it in: a new grid then paints one cell per frame, not all at once (emptying the
        axes instead would re-lay them twice, the dearest part of a repaint)."""
        plot, items = self.cells[name]
        report = None if blank else self._reports.get(name)
        plot.setVisible(not blank)
        if not blank:
            items.update(plot_data(report, self.options) if report is not None else None)
        self._titles[plot].set(self._labels.get(name, name), *cell_title(report), tooltip=name)
        axis = plot.getAxis("bottom")
        if axis.logMode != self.options.log:
            axis.setLogMode(self.options.log)

    def set_options(self, options: PlotOptions) -> None:
        """Redraw every cell on a new scale, axis or bin count."""
        self.options = options
        self._stale = True
        if self.isVisible():
            self._refresh()

    def select(self, name: str) -> None:
        """Frame the selected layer's plot (only the cells whose frame changes repaint)."""
        self._selected = name
        if self._framed == name:
            return
        for key in (self._framed, name):
            if key in self.cells:
                plot, _ = self.cells[key]
                plot.vb.setBorder(theme.pen(theme.MANUAL, 2.5) if key == name else None)
        self._framed = name if name in self.cells else None

    def _clicked(self, event) -> None:
        for name, (plot, _) in self.cells.items():
            if plot.sceneBoundingRect().contains(event.scenePos()):
                self.layerClicked.emit(name)
                return
