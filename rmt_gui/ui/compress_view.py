"""The Compress view of a document: validation accuracy against parameters kept, as computed.

The curve (plain SVD, whitened SVD, whitened + fine-tune, BEMA's point) runs in a worker
process of the tab, as the rank sweep does (:func:`rmt_gui.jobs.compress_curve.curve_job`);
points are drawn as they arrive. A clicked point (or a typed budget) shows its per-layer ranks;
Apply rebuilds it in a worker and pushes it on the document's history (undo restores). The
curve belongs to the model state it was measured on: Apply works only while that state is
current. Accuracies are on a validation split held out of the MNIST training set.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSize, Qt
from PySide6.QtGui import QPainter, QResizeEvent
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.errors import RmtGuiError
from rmt_gui.jobs.compress_curve import BuiltPoint, CurveSetup
from rmt_gui.jobs.compress_job import (
    CALIBRATION_SIZE,
    CURVE_FINETUNE_STEPS,
    CURVE_FRACTIONS,
    VALIDATION_SIZE,
)
from rmt_gui.model.atomic_file import atomic_write
from rmt_gui.state.compress import METHOD_LABELS, CurveState
from rmt_gui.state.save_folder import suggested_path
from rmt_gui.ui import theme
from rmt_gui.ui.name_elide import NameDelegate
from rmt_gui.ui.spectrum_view import IMAGE_FILTER, LEGEND_COLUMNS, fit_legend
from rmt_gui.ui.view_box import plot_widget

if TYPE_CHECKING:
    from torch import nn

    from rmt_gui.jobs.compress_job import CurvePoint, Stage
    from rmt_gui.state.document import Document
    from rmt_gui.ui.document_view import DocumentView

CURVE_KIND, BUILD_KIND = "compress-curve", "compress-build"
PLOT_MARGINS = (6, 2, 10, 8)
SIDE_BY_SIDE_PX = 760
SPLITS = {Qt.Orientation.Horizontal: (700, 240), Qt.Orientation.Vertical: (600, 260)}
SERIES = (
    ("svd", theme.POOR, "o"),
    ("whitened", theme.SWEEP, "s"),
    ("whitened+finetune", theme.GOOD, "t"),
)


def _spin(low: int, high: int, value: int, suffix: str, tip: str) -> QSpinBox:
    """A spin box with a range, a start value, a unit and a tooltip."""
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    return box


class CompressView(QWidget):
    """Run, draw and pick from the accuracy–size curve of ``host``'s document."""

    def __init__(self, host: DocumentView) -> None:
        """Build the controls, plot and side panel; bind once ``host`` has opened its file."""
        super().__init__()
        self.host = host
        self.state = CurveState()
        self.setup: CurveSetup | None = None
        self.base: weakref.ref | None = None
        self.selected: CurvePoint | None = None
        self.fractions: tuple[float, ...] = CURVE_FRACTIONS
        self._build_controls()
        self._build_plot()
        self._build_side()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(self.controls)
        layout.addWidget(self.progress)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.plot_widget)
        self.splitter.addWidget(self.side)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes(list(SPLITS[Qt.Orientation.Horizontal]))
        layout.addWidget(self.splitter, 1)
        host.opened.connect(lambda _path: self.bind(host.document))
        self.bind(host.document)
        self._redraw()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Put the point's panel beside the plot where the tab is wide enough, else below it
        (a plot squeezed beside it would be too narrow to read)."""
        super().resizeEvent(event)
        wide = self.width() >= SIDE_BY_SIDE_PX
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.splitter.orientation() != orientation:
            self.splitter.setOrientation(orientation)
            self.splitter.setSizes(list(SPLITS[orientation]))

    # -- widgets ----------------------------------------------------------------------------

    def _build_controls(self) -> None:
        """The title, data-size spin boxes, Run and Cancel, and the progress bar."""
        self.title = QLabel("Open a runnable model, then run the curve.")
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.train_images = _spin(0, 60_000, 0, " train images",
                                  "MNIST training images used (0: all of them)")  # fmt: skip
        self.train_images.setSpecialValueText("all train images")
        self.validation = _spin(100, 30_000, VALIDATION_SIZE, " validation",
                                "training images held out to measure accuracy")  # fmt: skip
        self.calibration = _spin(16, 30_000, CALIBRATION_SIZE, " calibration",
                                 "training images whose activations whiten each layer")  # fmt: skip
        self.finetune_steps = _spin(
            0,
            5_000,
            CURVE_FINETUNE_STEPS,
            " fine-tune steps",
            "recovery steps per whitened point (0: no tuned curve)",
        )
        self.run_button = QPushButton("Run curve")
        self.run_button.setToolTip("Measure every method at every budget in the background")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.controls = QGridLayout()
        self.controls.setColumnStretch(0, 1)
        widgets = (self.train_images, self.validation, self.calibration, self.finetune_steps,
                   self.run_button, self.cancel_button)  # fmt: skip
        for index, widget in enumerate(widgets):
            self.controls.addWidget(widget, index // 3, 1 + index % 3)
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.run_button.clicked.connect(self.run_curve)
        self.cancel_button.clicked.connect(self.cancel_curve)

    def _build_plot(self) -> None:
        """One series per method, BEMA's star, the selection ring and the original line."""
        self.plot_widget = plot_widget(axisItems=theme.value_axes())
        self.plot = self.plot_widget.getPlotItem()
        theme.style_plot(self.plot)
        self.plot.setLabel("bottom", "parameters kept (% of the original)")
        self.plot.setLabel("left", "validation accuracy (%)")
        self.plot.setContentsMargins(*PLOT_MARGINS)
        self.legend = pg.LegendItem(labelTextSize="9pt", colCount=LEGEND_COLUMNS[0])
        self.legend.setParentItem(self.plot)
        self.legend.anchor((0.5, 0), (0.5, 0), offset=(0, 2))
        self.series: dict[str, pg.PlotDataItem] = {}
        for method, color, symbol in (*SERIES, ("bema", theme.SPIKE, "star")):
            item = pg.PlotDataItem(
                pen=None if method == "bema" else theme.pen(color, 2), symbol=symbol,
                symbolSize=16 if method == "bema" else 9, symbolBrush=pg.mkBrush(color),
                symbolPen=pg.mkPen("w"), name=METHOD_LABELS[method],
            )  # fmt: skip
            item.sigPointsClicked.connect(self._clicked)
            self.plot.addItem(item)
            self.legend.addItem(item, METHOD_LABELS[method])
            self.series[method] = item
        self.plot.geometryChanged.connect(self._fit_legend)
        self.ring = pg.ScatterPlotItem(size=20, pen=theme.pen(theme.CUTOFF, 2), brush=None)
        self.plot.addItem(self.ring)
        self.original_line = pg.InfiniteLine(
            angle=0, pen=theme.pen(theme.BULK_EDGE, 1.2, Qt.PenStyle.DotLine),
            label="original", labelOpts={"position": 0.5, "color": theme.BULK_EDGE,
                                         "anchors": [(0.5, 1), (0.5, 1)]},
        )  # fmt: skip
        self.plot.addItem(self.original_line, ignoreBounds=True)
        self.original_line.hide()

    def _fit_legend(self) -> None:
        """The key in a band above the data area (it never covers a point), in as few rows as
        the plot's width allows."""
        self.plot.layout.setRowFixedHeight(0, fit_legend(self.plot, self.legend))

    def _build_side(self) -> None:
        """The typed budget, the selected point's rank table, Apply and the export buttons."""
        self.method_box = QComboBox()
        for method, _color, _symbol in SERIES:
            self.method_box.addItem(METHOD_LABELS[method], method)
        self.budget = QDoubleSpinBox()
        self.budget.setRange(0.1, 100.0)
        self.budget.setValue(10.0)
        self.budget.setDecimals(1)
        self.budget.setSuffix(" % kept")
        self.budget.setToolTip("The largest measured point of this method within the budget")
        self.pick_button = QPushButton("Pick")
        self.point_label = QLabel("Click a point of the curve, or type a budget.")
        self.point_label.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["layer", "rank", "BEMA rank"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideLeft)
        self.table.setItemDelegateForColumn(0, NameDelegate(self.table))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.apply_button = QPushButton("Apply as a history step")
        self.apply_button.setEnabled(False)
        self.save_plot_button = QPushButton("Save plot…")
        self.save_csv_button = QPushButton("Save CSV…")
        budget_row, save_row = QHBoxLayout(), QHBoxLayout()
        for widget in (self.budget, self.pick_button):
            budget_row.addWidget(widget)
        save_row.addWidget(self.save_plot_button)
        save_row.addWidget(self.save_csv_button)
        self.side = QWidget()
        column = QVBoxLayout(self.side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.method_box)
        column.addLayout(budget_row)
        column.addWidget(self.point_label)
        column.addWidget(self.table, 1)
        column.addWidget(self.apply_button)
        column.addLayout(save_row)
        self.pick_button.clicked.connect(self.pick_budget)
        self.apply_button.clicked.connect(self.apply_selected)
        self.save_plot_button.clicked.connect(self._save_plot_dialog)
        self.save_csv_button.clicked.connect(self._save_csv_dialog)

    # -- document ---------------------------------------------------------------------------

    @property
    def document(self) -> Document | None:
        """The host's document (``None`` until its file has opened)."""
        return self.host.document

    def bind(self, document: Document | None) -> None:
        """Follow ``document``'s current state (Apply only while the curve's model is current)."""
        if document is not None:
            document.state_changed.connect(lambda _event: self._update_apply())
            self.title.setText("Run the curve to compare methods at every size.")

    def _base_current(self) -> bool:
        """Whether the curve was measured on the document's current state."""
        doc = self.document
        return doc is not None and self.base is not None and self.base() is doc.model

    def _update_apply(self) -> None:
        """Enable Apply for a selected point of the current state while nothing rebuilds."""
        building = self.host.runner.running(BUILD_KIND)
        current = self._base_current()
        self.apply_button.setEnabled(self.selected is not None and current and not building)
        if self.state.points and not current:
            self.apply_button.setToolTip("The curve was measured on another state of the model")
        else:
            self.apply_button.setToolTip("Rebuild the chosen point and push it on the history")

    # -- the curve --------------------------------------------------------------------------

    def current_setup(self) -> CurveSetup:
        """The data sizes and fine-tune steps the controls ask for, at :attr:`fractions`."""
        count = self.train_images.value()
        return CurveSetup(count or None, self.validation.value(), self.calibration.value(),
                          self.finetune_steps.value(), self.fractions)  # fmt: skip

    def run_curve(self) -> None:
        """Start the curve of the current state (asks for MNIST if missing)."""
        doc = self.document
        if doc is None:
            return
        if doc.not_runnable:
            self.set_message(f"Cannot compress: {doc.not_runnable}.")
            return
        self.host.tasks.data.ensure(self, lambda root: self._run_in(root, doc.model))

    def _run_in(self, root: Path, model: nn.Module) -> None:
        """Start the curve job on ``model`` (the current state) with MNIST under ``root``."""
        from rmt_gui.ui.document_tasks import model_spec

        setup = self.current_setup()
        self.state, self.setup, self.selected = CurveState(), setup, None
        self.base = weakref.ref(model)
        self._show_ranks(None)
        self._redraw()
        self.title.setText("Measuring the original model…")
        self._set_running(True)
        self.host.runner.start_process(
            CURVE_KIND, model_spec("compress_curve:curve_job", model, str(root), setup),
            on_item=self._arrived, on_done=self._finished,
            on_error=lambda message: self.set_message(f"Curve failed: {message}", True),
            on_cancel=lambda: self.set_message("Curve cancelled (points so far are kept)."),
        )  # fmt: skip

    def cancel_curve(self) -> None:
        """Stop the curve; its points so far stay drawn and can be applied."""
        self.host.runner.cancel(CURVE_KIND)

    def _arrived(self, event: object) -> None:
        """Take one event of the curve job, update the progress and redraw."""
        self.state.add(event)
        total = self.state.total
        self.progress.setRange(0, total)
        self.progress.setValue(len(self.state.points))
        self.progress.setFormat(f"{len(self.state.points)} / {total} points · {self.state.stage}")
        self.title.setText(f"<b>{self.state.stage or 'measuring'}</b>")
        self._redraw()

    def _finished(self) -> None:
        """The curve is complete: say how many points it has."""
        self._set_running(False)
        start = self.state.start
        count = start.fractions if start is not None else ()
        self.title.setText(f"{len(self.state.points)} points · {len(count)} budgets · "
                           "validation accuracy on held-out training images")  # fmt: skip

    def set_message(self, text: str, error: bool = False) -> None:
        """Show why the curve stopped (or cannot start) in the title."""
        self._set_running(False)
        self.title.setText(f"<span style='color:{theme.ERROR_TEXT}'>{text}</span>" if error
                           else text)  # fmt: skip

    def _set_running(self, running: bool) -> None:
        """Show the progress bar and swap Run and Cancel while the curve runs."""
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self._update_apply()

    def _redraw(self) -> None:
        """Draw each method's points so far, BEMA's point, the original line and the ring."""
        state = self.state
        for method, item in self.series.items():
            points = state.series(method)
            x, y = state.xy(method)
            item.setData(x, y, data=points)
        start = state.start
        self.original_line.setVisible(start is not None)
        if start is not None:  # shown first: a hidden label ignores a new text
            self.original_line.setValue(100.0 * start.val_accuracy)
            self.original_line.label.setFormat(f"original {100 * start.val_accuracy:.2f}%")
        shown = bool(state.points)
        theme.show_values(self.plot, shown)
        if shown:
            self.plot.enableAutoRange()
        self._draw_ring()

    def _draw_ring(self) -> None:
        """Circle the selected point (none when nothing is selected)."""
        point = self.selected
        if point is None:
            self.ring.setData([], [])
        else:
            self.ring.setData([100.0 * point.kept], [100.0 * point.val_accuracy])

    # -- choosing a point -------------------------------------------------------------------

    def _clicked(self, _item: object, points: list, *_event: object) -> None:
        """A point symbol of any series was clicked: select it."""
        if len(points):
            self.select(points[0].data())

    def pick_budget(self) -> None:
        """Select the typed budget's point: the largest measured one of the chosen method."""
        method = self.method_box.currentData()
        point = self.state.within(method, self.budget.value() / 100.0)
        if point is None:
            self.point_label.setText(
                f"No {METHOD_LABELS[method]} point within {self.budget.value():g}% yet."
            )
            return
        self.select(point)

    def select(self, point: CurvePoint) -> None:
        """Show ``point``'s ranks in the table and make it the one Apply builds."""
        self.selected = point
        self._show_ranks(point)
        self._draw_ring()
        self._update_apply()

    def _show_ranks(self, point: CurvePoint | None) -> None:
        """Fill the table with ``point``'s rank per layer beside BEMA's (empty for none)."""
        if point is None:
            self.table.setRowCount(0)
            self.point_label.setText("Click a point of the curve, or type a budget.")
            return
        self.point_label.setText(
            f"<b>{METHOD_LABELS[point.method]}</b>: {point.params:,} parameters "
            f"({100 * point.kept:.1f}%), validation accuracy {100 * point.val_accuracy:.2f}%"
        )
        bema = dict(self.state.bema.ranks) if self.state.bema is not None else {}
        self.table.setRowCount(len(point.ranks))
        for row, (layer, rank) in enumerate(point.ranks):
            cells = (layer, "dense" if rank is None else str(rank),
                     "—" if layer not in bema else ("dense" if bema[layer] is None
                                                    else str(bema[layer])))  # fmt: skip
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))

    # -- applying ---------------------------------------------------------------------------

    def apply_selected(self) -> None:
        """Rebuild the selected point in a worker, then push it on the history."""
        doc, point, setup = self.document, self.selected, self.setup
        if doc is None or point is None or setup is None or not self._base_current():
            return
        self.host.tasks.data.ensure(
            self, lambda root: self._apply_in(root, doc, doc.model, setup, point)
        )

    def _apply_in(
        self, root: Path, doc: Document, model: nn.Module, setup: CurveSetup, point: CurvePoint
    ) -> None:
        """Rebuild ``point`` from ``model`` in a worker (MNIST under ``root``)."""
        from rmt_gui.ui.document_tasks import model_spec

        doc.set_busy(f"Rebuilding the {METHOD_LABELS[point.method]} point…")
        spec = model_spec("compress_curve:build_point_job", model, str(root), setup, point)
        self.host.runner.start_process(
            BUILD_KIND, spec, on_item=lambda item: self._built(item, doc, model),
            on_done=self._update_apply, on_error=lambda message: self._build_failed(doc, message),
            on_cancel=lambda: doc.set_busy(""),
        )  # fmt: skip
        self._update_apply()

    def _built(self, item: Stage | BuiltPoint, doc: Document, base: nn.Module) -> None:
        """A rebuild's stage or result; the result becomes a history step if ``base`` is current."""
        from rmt_gui.jobs.model_transfer import model_from_data

        if not isinstance(item, BuiltPoint):
            doc.set_busy(f"{item.name}: {item.detail}")
            return
        doc.set_busy("")
        if doc.model is not base:
            doc.post_status("The model changed while the point was rebuilt; dropped.", True)
            return
        point = item.point
        description = (
            f"compress ({METHOD_LABELS[point.method]}) to {100 * point.kept:.1f}% "
            f"of the parameters, validation {100 * point.val_accuracy:.2f}%"
        )
        doc.post_status(f"{description}: {item.params:,} parameters")
        doc.apply(description, model_from_data(item.model), item.changes)

    def _build_failed(self, doc: Document, message: str) -> None:
        """Say why the rebuild failed and allow another try."""
        doc.set_busy("")
        doc.post_status(f"Compression failed: {message}", True)
        self._update_apply()

    # -- export -----------------------------------------------------------------------------

    def _suggested(self, suffix: str) -> Path:
        """Where a save dialog starts: the last folder used, named after the file."""
        settings = self.host.tasks.data.settings
        return suggested_path(settings.save_folder(), self.host.path,
                              f"{self.host.path.stem}-compress{suffix}")  # fmt: skip

    def _ask(self, title: str, suffix: str, filters: str) -> Path | None:
        """A save path (Qt's dialog asks before replacing a file); its folder is remembered."""
        chosen, selected = QFileDialog.getSaveFileName(self, title, str(self._suggested(suffix)),
                                                       filters)  # fmt: skip
        if not chosen:
            return None
        path = Path(chosen)
        if not path.suffix:
            path = path.with_suffix(".svg" if "svg" in selected.lower() else suffix)
        self.host.tasks.data.settings.set_save_folder(path.parent)
        return path

    def _save_plot_dialog(self) -> None:
        """Ask for a PNG or SVG path and write the plot there."""
        path = self._ask("Save curve plot", ".png", IMAGE_FILTER)
        if path is not None:
            self._report(lambda: self.save_plot(path, force=True), f"Curve plot saved to {path}")

    def _save_csv_dialog(self) -> None:
        """Ask for a CSV path and write the points there."""
        path = self._ask("Save curve points", ".csv", "CSV table (*.csv)")
        if path is not None:
            self._report(lambda: self.save_csv(path, force=True), f"Curve points saved to {path}")

    def _report(self, write, done: str) -> None:
        """Run ``write`` and say how it went in the status bar."""
        try:
            write()
        except RmtGuiError as exc:
            self.host.post_status(str(exc), True)
            return
        self.host.post_status(done)

    def save_csv(self, path: Path, force: bool = False) -> Path:
        """Write every point as CSV, atomically (an existing file only with ``force``)."""
        text = self.state.csv_text().encode()
        return atomic_write(Path(path), lambda handle: handle.write(text), force=force)

    def save_plot(self, path: Path, force: bool = False) -> Path:
        """Write the plot as SVG (``.svg``) or PNG (any other suffix), atomically."""
        path = Path(path)
        data = self._svg_bytes() if path.suffix.lower() == ".svg" else self._png_bytes()
        return atomic_write(path, lambda handle: handle.write(data), force=force)

    def _png_bytes(self) -> bytes:
        """The plot as PNG bytes."""
        return _written(lambda buffer: self.plot_widget.grab().save(buffer, "PNG"))

    def _svg_bytes(self) -> bytes:
        """The plot as SVG bytes (vector, rendered by Qt's SVG generator)."""
        widget = self.plot_widget
        title = f"{self.host.path.name}: accuracy against parameters kept"

        def paint(buffer: QBuffer) -> None:
            """Render the plot widget into ``buffer`` as SVG."""
            generator = QSvgGenerator()
            generator.setOutputDevice(buffer)
            generator.setSize(QSize(widget.width(), widget.height()))
            generator.setViewBox(QRect(0, 0, widget.width(), widget.height()))
            generator.setTitle(title)
            painter = QPainter(generator)
            try:
                widget.render(painter)
            finally:
                painter.end()

        return _written(paint)


def _written(fill: Callable[[QBuffer], object]) -> bytes:
    """The bytes ``fill`` writes into an in-memory buffer (an image, before it goes to disk)."""
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    fill(buffer)
    buffer.close()
    return bytes(array.data())
