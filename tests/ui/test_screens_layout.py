"""Nothing on the plots and the prune panel is clipped or drawn over something else.

Geometry read from the shown widgets at the default window size: the preview table's columns
fit its width, the cutoff lines' names sit clear of the bars and of each other, the small
multiples' tick labels never meet, and the Compress tab's legend and axis title stay clear of
the data. Each test saves a screenshot under tests/screenshots/ to look at.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtWidgets import QApplication

from rmt_gui.jobs.compress_job import CurvePoint, CurveStart
from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.ui.app import default_model
from rmt_gui.ui.multiples_view import MultiplesView, columns_for
from rmt_gui.ui.prune_panel import LAYER_COLUMN, NUMBER_COLUMNS
from rmt_gui.ui.spectrum_items import TAG_GAP, spread
from tests.helpers.app_window import open_and_wait, save_screenshot
from tests.helpers.long_names import write_long_names
from tests.helpers.plot_geometry import bar_rects, overlapping, tick_label_rects

CELL_WIDTHS = (150, 190, 240, 320)


def scene_rect(widget) -> QRectF:
    """The part of a graphics view's scene that its viewport shows."""
    view = widget if hasattr(widget, "mapToScene") else widget.plot_widget
    return view.mapToScene(view.viewport().rect()).boundingRect()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["default", "long names"])
def test_preview_table_fits_without_scrolling_sideways(qtbot, window, tmp_path, model) -> None:
    path = default_model() if model == "default" else write_long_names(tmp_path / "enc.safetensors")
    view = open_and_wait(qtbot, window, path)
    table = view.prune.table
    QApplication.processEvents()
    assert table.rowCount() > 1
    assert not table.horizontalScrollBar().isVisible()
    widths = [table.columnWidth(column) for column in range(table.columnCount())]
    assert sum(widths) <= table.viewport().width()
    header = table.horizontalHeader()
    for column in range(table.columnCount()):
        assert widths[column] >= header.sectionSizeFromContents(column).width() - 1
        assert table.horizontalHeaderItem(column).toolTip()
    for column in NUMBER_COLUMNS:
        assert widths[column] >= table.sizeHintForColumn(column)
    if model == "default":
        assert widths[LAYER_COLUMN] >= table.sizeHintForColumn(LAYER_COLUMN)
    save_screenshot(view.prune, f"28_preview_table_{model.replace(' ', '_')}")


def cutoff_tag_rects(spectrum) -> dict[str, QRectF]:
    """The shown cutoff names and their scene rectangles."""
    tags = spectrum.items.tags
    return {item.text(): item.sceneBoundingRect() for item in tags.items if item.isVisible()}


def check_tags(spectrum) -> dict[str, QRectF]:
    """The cutoff names are whole, apart, inside the plot and over no bar."""
    QApplication.processEvents()
    rects = cutoff_tag_rects(spectrum)
    plot = spectrum.plot.sceneBoundingRect()
    bars = bar_rects(spectrum.plot, spectrum.data.edges, spectrum.data.density)
    assert not overlapping(list(rects.values()))
    for rect in rects.values():
        assert plot.contains(rect)
        assert scene_rect(spectrum.plot_widget).contains(rect)
        assert not any(rect.intersects(bar) for bar in bars)
        assert not rect.intersects(spectrum.legend.sceneBoundingRect())
    return rects


@pytest.mark.parametrize(
    ("centres", "widths"),
    [([50.0, 50.0], [40.0, 30.0]), ([5.0, 12.0, 14.0], [20.0, 20.0, 20.0]),
     ([190.0, 195.0], [50.0, 40.0]), ([20.0, 120.0], [30.0, 30.0])],
)  # fmt: skip
def test_spread_names_stay_apart_in_order_and_inside(centres, widths) -> None:
    lefts = spread(centres, widths, 0.0, 200.0)
    for left, right_left, width in zip(lefts, lefts[1:], widths, strict=False):
        assert left + width + TAG_GAP <= right_left + 1e-9
    assert lefts[0] >= 0 and lefts[-1] + widths[-1] <= 200.0
    for left, centre, width in zip(lefts, centres, widths, strict=True):
        alone = min(max(centre - width / 2, 0.0), 200.0 - width)
        assert abs(left - alone) <= sum(widths) + TAG_GAP * len(widths)
    if centres == [20.0, 120.0]:
        assert lefts == [5.0, 105.0]


def test_cutoff_names_sit_clear_of_the_bars_and_each_other(qtbot, window) -> None:
    view = open_and_wait(qtbot, window, default_model(), preview=False)
    spectrum = view.spectrum
    rects = check_tags(spectrum)
    assert set(rects) == {"λ₊ BEMA", "MP edge"}
    keep = spectrum.manual_label.sceneBoundingRect()
    bars = bar_rects(spectrum.plot, spectrum.data.edges, spectrum.data.density)
    assert not any(keep.intersects(bar) for bar in bars)
    save_screenshot(spectrum, "29_cutoff_names")
    x0, x1 = spectrum.plot.viewRange()[0]
    cutoff = spectrum.items.cutoff.value()
    spectrum.plot.setXRange(x0, cutoff + 0.01 * (x1 - x0), padding=0)
    assert set(check_tags(spectrum)) == {"λ₊ BEMA", "MP edge"}
    spectrum.plot.setXRange(cutoff - 0.01 * (x1 - x0), x1, padding=0)
    assert "λ₊ BEMA" in check_tags(spectrum)
    spectrum.plot.setXRange(x0, 0.5 * (x0 + cutoff), padding=0)
    assert not check_tags(spectrum)
    spectrum.scale_box.setCurrentIndex(1)
    assert set(check_tags(spectrum)) == {"s₊ BEMA", "MP edge"}


def shown_multiples(
    qtbot, window, path, log: bool, scale: str = "eigen"
) -> tuple[MultiplesView, list[str]]:
    """A grid of the layers of ``path`` (four columns for eight or more) on a log or linear
    value axis."""
    view = open_and_wait(qtbot, window, path, preview=False)
    reports = {report.name: report for report in view.document.reports()}
    grid = MultiplesView(PlotOptions(scale=scale, log=log))
    qtbot.addWidget(grid)
    grid.set_reports(list(reports), reports)
    grid.show()
    return grid, list(reports)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "scale", "log"),
    [("long names", "eigen", True), ("long names", "singular", False),
     ("default", "eigen", False), ("default", "eigen", True)],
)  # fmt: skip
def test_small_plot_tick_labels_never_meet(
    qtbot, window, tmp_path, model: str, scale: str, log: bool
) -> None:
    short = write_long_names(tmp_path / "enc.safetensors", blocks=2)
    path = default_model() if model == "default" else short
    grid, names = shown_multiples(qtbot, window, path, log, scale)
    columns = columns_for(len(names))
    for cell in CELL_WIDTHS:
        grid.resize(columns * cell + 40, 700)
        QApplication.processEvents()
        plot, _ = grid.cells[names[0]]
        assert plot.size().width() >= cell - 12
        for name in names[:8]:
            plot, _ = grid.cells[name]
            bottom = tick_label_rects(plot.getAxis("bottom"))
            assert len(bottom) >= 2
            assert not overlapping(bottom)
            assert not overlapping(tick_label_rects(plot.getAxis("left")))
    save_screenshot(grid, f"30_small_plot_ticks_{model.replace(' ', '_')}_{scale}_{log}")


def test_an_empty_cell_shows_no_numbers(qtbot, window, tmp_path) -> None:
    path = write_long_names(tmp_path / "enc.safetensors", blocks=2)
    grid, names = shown_multiples(qtbot, window, path, log=False)
    grid.set_reports(names, {})
    QApplication.processEvents()
    for name in names:
        plot, _ = grid.cells[name]
        assert not tick_label_rects(plot.getAxis("bottom"))
        assert not tick_label_rects(plot.getAxis("left"))


def rising_curve(fractions: tuple[float, ...]) -> list:
    """A measured-looking accuracy–size curve: the start and three methods rising with size."""
    events: list = [CurveStart(50_890, 0.956, fractions, ("svd", "whitened", "whitened+finetune"))]
    for lift, method in ((0.0, "svd"), (0.04, "whitened"), (0.08, "whitened+finetune")):
        for fraction in fractions:
            accuracy = min(0.955, 0.5 + lift + 2.2 * fraction)
            events.append(CurvePoint(method, fraction, int(50_890 * fraction), fraction,
                                     accuracy, 1.0 - accuracy, ()))  # fmt: skip
    events.append(CurvePoint("bema", None, 32_090, 0.63, 0.951, 0.17, ()))
    return events


def test_compress_legend_and_axis_title_stay_clear(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"], preview=False)
    panel = view.compress
    view.show_view(panel)
    for event in rising_curve((0.05, 0.1, 0.2, 0.3)):
        panel.state.add(event)
    panel._redraw()
    QApplication.processEvents()
    legend = panel.legend.sceneBoundingRect()
    box = panel.plot.vb
    assert not legend.intersects(box.sceneBoundingRect())
    for item in panel.series.values():
        x, y = item.getData()
        for point in zip(x, y, strict=True):
            assert not legend.contains(box.mapViewToScene(QPointF(*point)))
    shown = scene_rect(panel)
    assert shown.contains(legend)
    assert panel.plot_widget.width() >= 0.8 * panel.width()
    assert panel.original_line.label.toPlainText() == "original 95.60%"
    for side in ("bottom", "left"):
        title = panel.plot.getAxis(side).label.sceneBoundingRect()
        assert shown.contains(title)
    save_screenshot(window, "31_compress_legend")
