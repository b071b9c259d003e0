"""The main spectrum plot: histogram, MP fit, BEMA cutoff, spikes, a draggable manual cutoff.

Everything drawn comes from :func:`rmt_gui.state.plot_data.plot_data` (the spectral core); this
widget only places it, reports hover values and turns the manual line's position into a rank.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.state.plot_data import PlotOptions, SpectrumPlotData, plot_data
from rmt_gui.ui import theme
from rmt_gui.ui.live_label import LiveLabel
from rmt_gui.ui.prune_panel import described_combo
from rmt_gui.ui.spectrum_items import CUTOFF_NAMES, SIDE_ANCHORS, SpectrumItems
from rmt_gui.ui.view_box import plot_widget

IMAGE_FILTER = "PNG image (*.png);;SVG image (*.svg)"
SCALES = (
    ("eigen", "eigenvalues s²/n", "Plot λ = s²/n, the scale of the Marchenko–Pastur law"),
    ("singular", "singular values s", "Plot the singular values s themselves"),
)
NO_LAYER = "Select a layer to see its spectrum."
AXIS_LABELS = {"eigen": "eigenvalue λ = s²/n", "singular": "singular value s"}
LEGEND_COLUMNS = (4, 3, 2, 1)
LEGEND_GAP = 6
CUTOFF_ENTRY = 2
MANUAL_ENTRY = "manual cutoff (drag)"
MANUAL_TAG_AT = 0.985  # the "keep N" label hangs from the top of the data area, above the bars
FIGURE_SIZE = (1200, 800)
FIGURE_TITLE_PT = 12
CONTROL_ROWS = 2


def fmt(value: float) -> str:
    """A compact number for readouts."""
    return f"{value:.4g}" if 1e-3 <= abs(value) < 1e5 or value == 0 else f"{value:.3e}"


def fit_legend(plot: pg.PlotItem, legend: pg.LegendItem) -> float:
    """Lay ``legend`` out in the most of :data:`LEGEND_COLUMNS` columns that fit ``plot``'s
    width; the height it then takes above the data area, with a gap below."""
    width = plot.size().width() - 2 * LEGEND_GAP
    for columns in LEGEND_COLUMNS:
        legend.setColumnCount(columns)
        if legend.width() <= width:
            break
    return legend.height() + LEGEND_GAP


def readout_html(report) -> str:
    """The fit summary of a layer report as one line of rich text."""
    info = report.info
    shape = f"{info.shape[0]}×{info.shape[1]}"
    update = report.update
    if update is not None:
        values = ", ".join(fmt(v) for v in update.values)
        return (f"<b>{info.name}</b> {shape} — adapter update, rank {len(update.values)} "
                f"(r = {info.adapter_rank})<br>singular values {values}; no noise bulk, so no "
                "MP fit")  # fmt: skip
    if report.analysis is None:
        return f"<b>{info.name}</b> {shape} — <span style='color:{theme.ERROR_TEXT}'>" \
               f"{report.problem}</span>"  # fmt: skip
    fit, gd = report.analysis.fit, report.analysis.rank_gavish_donoho
    color = theme.GOOD.name() if fit.good_fit else theme.POOR.name()
    quality = "good fit" if fit.good_fit else "poor fit"
    return (
        f"<b>{info.name}</b> &nbsp;{shape} &nbsp; γ = {fit.gamma:.3g} &nbsp; "
        f"rank {report.rank} &nbsp; Gavish–Donoho rank {gd}<br>"
        f"σ² = {fmt(fit.sigma2)} &nbsp; λ₊ = {fmt(fit.lambda_plus)} &nbsp; "
        f"<b>n_signal = {fit.n_signal}</b> of {fit.p} &nbsp; fit error = {fit.fit_error:.3f} "
        f"<span style='color:{color}'>● {quality}</span>"
    )


class SpectrumView(QWidget):
    """One layer's spectrum with its fit, a manual cutoff line and an optional overlay.

    A ``live`` view (training: spectra stream in, nothing to prune by hand) has no manual
    line, grid or legend and keeps its range while the spectrum still fills it, so that each
    new snapshot costs little to draw.
    """

    cutoffMoved = Signal(int)
    rankChosen = Signal(int)
    optionsChanged = Signal(object)
    overlayChanged = Signal(int)

    def __init__(
        self, options: PlotOptions, parent: QWidget | None = None, live: bool = False
    ) -> None:
        super().__init__(parent)
        self.options = options
        self.live = live
        self._legend_text: str | None = None
        self.report = None
        self.overlay_report = None
        self.data: SpectrumPlotData | None = None
        self._placing = False
        self._build_controls()
        self.readout = LiveLabel(NO_LAYER, lines=2 if live else 3)
        self.source = ""  # the model file's name, for the title of a saved plot
        self.hover = QLabel(" ")
        self.hover.setStyleSheet("color: #555;")
        self.hover.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.plot_widget = plot_widget(axisItems=theme.value_axes())
        self.plot = self.plot_widget.getPlotItem()
        theme.style_plot(self.plot, grid=not live)
        self.overlay = pg.PlotDataItem(
            stepMode="center", fillLevel=0, brush=theme.OVERLAY_FILL,
            pen=theme.pen(theme.OVERLAY_LINE, 1.5, Qt.PenStyle.DashLine),
        )  # fmt: skip
        self.plot.addItem(self.overlay)
        self.items = SpectrumItems(self.plot, live=live)
        self.manual = pg.InfiniteLine(
            angle=90, movable=True, pen=theme.pen(theme.MANUAL, 2.5),
            hoverPen=theme.pen(theme.MANUAL.lighter(130), 4),
        )  # fmt: skip
        self.manual_label = pg.InfLineLabel(
            self.manual, text="", position=MANUAL_TAG_AT, anchors=SIDE_ANCHORS, color=theme.MANUAL,
            fill=pg.mkBrush(255, 255, 255, 210),
        )  # fmt: skip
        self.plot.addItem(self.manual, ignoreBounds=True)
        self.manual.sigPositionChanged.connect(self._manual_moved)
        self.manual.sigPositionChangeFinished.connect(self._manual_finished)
        self._build_legend()
        self.fit_button.clicked.connect(self._fit_view)
        self._mouse = pg.SignalProxy(
            self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        bar = QWidget()
        bar.setLayout(self.controls)
        bar.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.setMinimumWidth(self._controls_width(CONTROL_ROWS))
        layout.addWidget(bar)
        layout.addWidget(self.readout)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.hover)
        self._apply_axis_labels()
        self.show_report(None)

    def _build_controls(self) -> None:
        self.scale_box = described_combo(SCALES, self.options.scale)
        self.log_box = QCheckBox("log axis")
        self.log_box.setChecked(self.options.log)
        self.log_box.setToolTip("Logarithmic value axis: the bulk and far spikes both visible")
        self.bins_box = QSpinBox()
        self.bins_box.setRange(5, 400)
        self.bins_box.setValue(self.options.bins)
        self.bins_box.setPrefix("bins ≤ ")
        self.bins_box.setToolTip("Most histogram bins (small layers use fewer)")
        self.overlay_box = QComboBox()
        self.overlay_box.addItem("no overlay")
        self.overlay_box.setToolTip("Draw a second spectrum for comparison")
        self.overlay_box.setMinimumContentsLength(8)
        self.fit_button = QPushButton("Fit view")
        self.save_button = QPushButton("Save plot…")
        self.save_button.setToolTip("Save this plot as PNG or SVG")
        self.controls = QGridLayout()
        self.controls.setContentsMargins(0, 0, 0, 0)
        self._controls = (self.scale_box, self.log_box, self.bins_box, self.overlay_box,
                          self.fit_button, self.save_button)  # fmt: skip
        self._control_rows = 0
        self._lay_controls(1)
        self.scale_box.currentIndexChanged.connect(self._options_edited)
        self.log_box.toggled.connect(self._options_edited)
        self.bins_box.valueChanged.connect(self._options_edited)
        self.overlay_box.currentIndexChanged.connect(self.overlayChanged.emit)

    def _controls_width(self, rows: int) -> int:
        """The width the controls take laid out on ``rows`` rows."""
        per_row = -(-len(self._controls) // rows)
        spacing = self.controls.horizontalSpacing()
        widths = [widget.sizeHint().width() for widget in self._controls]
        return max(
            sum(widths[start : start + per_row]) + spacing * (per_row - 1)
            for start in range(0, len(widths), per_row)
        )

    def _lay_controls(self, rows: int) -> None:
        """Put the controls on ``rows`` rows (left to right, the buttons last), a stretch after."""
        if rows == self._control_rows:
            return
        self._control_rows = rows
        per_row = -(-len(self._controls) // rows)
        for index, widget in enumerate(self._controls):
            self.controls.addWidget(widget, index // per_row, index % per_row)
        for column in range(len(self._controls) + 1):
            self.controls.setColumnStretch(column, 1 if column == per_row else 0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Lay the controls on one row where they fit, else on :data:`CONTROL_ROWS`."""
        super().resizeEvent(event)
        fits = self._controls_width(1) <= self.width() - 8
        self._lay_controls(1 if fits else CONTROL_ROWS)

    def _build_legend(self) -> None:
        """The key, in a band above the plot's data area: it never covers the histogram.

        It takes as few rows as the plot's width allows (:meth:`_fit_legend`).
        """
        legend = pg.LegendItem(labelTextSize="9pt", colCount=LEGEND_COLUMNS[0])
        legend.setParentItem(self.plot)
        legend.setBrush(pg.mkBrush(255, 255, 255, 220))
        glyph = self.items.glyph
        legend.addItem(glyph.key("histogram"), "histogram")
        legend.addItem(glyph.key("curve"), "MP density (BEMA fit)")
        legend.addItem(pg.PlotDataItem(pen=self.items.cutoff.pen), "BEMA cutoff λ₊")
        legend.addItem(pg.PlotDataItem(pen=self.items.edge.pen), "MP bulk edge")
        legend.addItem(glyph.key("spikes"), "signal spikes")
        if not self.live:
            legend.addItem(pg.PlotDataItem(pen=self.manual.pen), MANUAL_ENTRY)
        legend.addItem(self.overlay, "overlay")
        legend.anchor((0.5, 0), (0.5, 0), offset=(0, 2))
        self.legend = legend
        self._set_overlay_legend("")
        legend.setVisible(not self.live)
        self.plot.geometryChanged.connect(self._fit_legend)

    def _fit_legend(self) -> None:
        """Lay the key out in the most columns that fit the plot's width; make room above for
        it and, below it, the cutoff lines' names."""
        if not self.live:
            self.items.reserve(fit_legend(self.plot, self.legend))

    def _set_overlay_legend(self, text: str) -> None:
        if text == self._legend_text:
            return
        self._legend_text = text
        sample, label = self.legend.items[-1]
        sample.setVisible(bool(text))
        label.setVisible(bool(text))
        label.setText(text)
        self.legend.updateSize()
        self._fit_legend()

    def _options_edited(self) -> None:
        self.options = PlotOptions(
            self.scale_box.currentData(), self.log_box.isChecked(), self.bins_box.value()
        )
        self._apply_axis_labels()
        rank = self.manual_rank()
        self.show_report(self.report, self.overlay_report, rank)
        self.optionsChanged.emit(self.options)

    def _apply_axis_labels(self) -> None:
        """Axis titles, log mode and the cutoff's name (λ₊ or s₊) for the current scale."""
        self.plot.setLabel("bottom", AXIS_LABELS[self.options.scale])
        self.plot.setLabel("left", "density per log₁₀ unit" if self.options.log else "density")
        self.plot.getAxis("bottom").setLogMode(self.options.log)
        _, label = self.legend.items[CUTOFF_ENTRY]
        label.setText(f"BEMA cutoff {CUTOFF_NAMES[self.options.scale]}")
        self.legend.updateSize()
        self._fit_legend()

    def set_overlay_choices(self, labels: list[str]) -> None:
        """Offer ``labels`` as overlays (after "no overlay"), keeping the choice if still there."""
        current = self.overlay_box.currentText()
        self.overlay_box.blockSignals(True)
        self.overlay_box.clear()
        self.overlay_box.addItems(["no overlay", *labels])
        index = self.overlay_box.findText(current)
        self.overlay_box.setCurrentIndex(max(index, 0))
        self.overlay_box.blockSignals(False)

    def show_report(self, report, overlay=None, manual_rank: int | None = None) -> None:
        """Draw ``report`` (a layer report or ``None``), an optional overlay, the manual line."""
        self.report, self.overlay_report = report, overlay
        self.data = plot_data(report, self.options) if report is not None else None
        self.items.update(self.data)
        other = plot_data(overlay, self.options) if overlay is not None else None
        if other is None:
            self.overlay.setData([], [])
        else:
            self.overlay.setData(other.edges, other.density)
        self._set_overlay_legend(self.overlay_box.currentText() if other is not None else "")
        self.readout.setText(readout_html(report) if report is not None else NO_LAYER)
        self.manual.setVisible(self.data is not None and not self.live)
        self.hover.setText(self.line_readout())
        if self.data is not None:
            self._frame_overlay()
            if not self.live:
                self.set_manual_rank(
                    report.analysis.fit.n_signal if manual_rank is None else manual_rank
                )

    def _fit_view(self) -> None:
        """Frame the spectrum and the overlay (the Fit view button)."""
        self.items.fit_view()
        self._frame_overlay()

    def _frame_overlay(self) -> None:
        """Widen the x range to the overlay, if one is shown and sticks out."""
        if self.overlay_report is None or self.data is None:
            return
        x0, x1 = self.plot.viewRange()[0]
        xs, _ = self.overlay.getData()
        if xs is not None and len(xs) and (xs[0] < x0 or xs[-1] > x1):
            self.plot.setXRange(min(x0, float(xs[0])), max(x1, float(xs[-1])), padding=0)

    def set_manual_rank(self, rank: int) -> None:
        """Place the manual line so that it keeps ``rank`` values (no ``rankChosen`` emitted)."""
        if self.data is None:
            return
        self._placing = True
        self.manual.setValue(self.data.position_for(rank))
        self._manual_moved()
        self._placing = False

    def manual_rank(self) -> int | None:
        """Values right of the manual line, or ``None`` without a spectrum."""
        return self.data.kept(self.manual.value()) if self.data is not None else None

    def _manual_moved(self) -> None:
        rank = self.manual_rank()
        if rank is None:
            return
        self.manual_label.setText(f"keep {rank}")
        self.hover.setText(self.line_readout())
        if not self._placing:
            self.cutoffMoved.emit(rank)

    def _manual_finished(self) -> None:
        rank = self.manual_rank()
        if rank is not None and not self._placing:
            self.rankChosen.emit(rank)

    def line_readout(self) -> str:
        """Where the manual line is and what it keeps: the same count as its "keep N" label."""
        data = self.data
        if data is None or self.live:
            return " "
        x = self.manual.value()
        value = 10.0**x if self.options.log else x
        return f"manual cutoff at {fmt(value)}: keep {data.kept(x)} of {data.values.size} values"

    def _mouse_moved(self, event: tuple) -> None:
        """Read out the value under the cursor (the line's own rank while on or dragging it)."""
        data = self.data
        pos = event[0]
        if data is None or not self.plot.sceneBoundingRect().contains(pos):
            self.hover.setText(self.line_readout())
            return
        if self.manual.isVisible() and (self.manual.mouseHovering or self.manual.moving):
            self.hover.setText(self.line_readout())
            return
        x = self.plot.vb.mapSceneToView(pos).x()
        value = 10.0**x if self.options.log else x
        index = int(np.searchsorted(data.edges, x)) - 1
        density = data.density[index] if 0 <= index < data.density.size else 0.0
        self.hover.setText(
            f"value {fmt(value)}   histogram density {fmt(float(density))}   "
            f"{data.kept(x)} of {data.values.size} values above"
        )

    def figure_title(self) -> str:
        """The title of a saved plot: model file (when known), layer, shape and n_signal."""
        report = self.report
        if report is None:
            return self.source or "spectrum"
        info = report.info
        parts = [self.source, f"<b>{info.name}</b>", f"{info.shape[0]}×{info.shape[1]}"]
        if report.analysis is not None:
            fit = report.analysis.fit
            parts.append(f"n_signal {fit.n_signal} of {fit.p}")
        return " · ".join(part for part in parts if part)

    def figure(self) -> QWidget:
        """This plot redrawn at :data:`FIGURE_SIZE` with a title and legend, for saving (not
        shown); a live view's figure has no manual line."""
        copy = SpectrumView(self.options)
        copy.source = self.source
        overlay = self.overlay_box.currentText() if self.overlay_report is not None else ""
        if overlay:
            copy.set_overlay_choices([overlay])
            copy.overlay_box.setCurrentIndex(1)
        copy.show_report(self.report, self.overlay_report, self.manual_rank())
        if self.live:
            copy.manual.hide()
            copy.legend.removeItem(MANUAL_ENTRY)
        (x_range, y_range) = self.plot.viewRange()
        copy.plot.setRange(xRange=x_range, yRange=y_range, padding=0)
        for widget in (copy.scale_box, copy.log_box, copy.bins_box, copy.overlay_box,
                       copy.fit_button, copy.save_button, copy.hover):  # fmt: skip
            widget.hide()
        copy.readout.setText(
            f"<span style='font-size:{FIGURE_TITLE_PT}pt'>{copy.figure_title()}</span>"
        )
        palette = copy.palette()
        palette.setColor(QPalette.ColorRole.Window, Qt.GlobalColor.white)
        copy.setPalette(palette)
        copy.setAutoFillBackground(True)
        copy.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
        copy.resize(*FIGURE_SIZE)
        copy.show()
        copy.layout().activate()
        return copy

    def save_image(self, path: str | Path) -> Path:
        """Write the plot with its title as PNG (any other suffix) or SVG (``.svg``)."""
        path = Path(path)
        figure = self.figure()
        try:
            if path.suffix.lower() == ".svg":
                _save_svg(figure, path, self.report.name if self.report is not None else "")
            elif not figure.grab().save(str(path)):
                raise OSError(f"could not write {path}")
        finally:
            figure.close()
            figure.deleteLater()
        return path


def _save_svg(widget: QWidget, path: Path, title: str) -> None:
    """Render ``widget`` with Qt's SVG generator (vector output)."""
    from PySide6.QtCore import QPoint, QRect, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(widget.width(), widget.height()))
    generator.setViewBox(QRect(0, 0, widget.width(), widget.height()))
    generator.setTitle(title or "spectrum")
    painter = QPainter(generator)
    try:
        widget.render(painter, QPoint(0, 0))
    finally:
        painter.end()
    if not path.is_file():
        raise OSError(f"could not write {path}")


def save_plot_dialog(view: SpectrumView, suggested: Path) -> tuple[str, bool] | None:
    """Ask for a PNG/SVG file and save ``view``'s plot: ``(message, is_error)``, or ``None``."""
    chosen, selected = QFileDialog.getSaveFileName(view, "Save plot", str(suggested), IMAGE_FILTER)
    if not chosen:
        return None
    path = Path(chosen)
    if not path.suffix:
        path = path.with_suffix(".svg" if "svg" in selected.lower() else ".png")
    try:
        view.save_image(path)
    except OSError as exc:
        return f"{path}: cannot save the plot ({exc.strerror or exc})", True
    return f"Plot saved to {path}", False
