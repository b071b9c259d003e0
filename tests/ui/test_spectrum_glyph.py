"""The one-item spectrum (histogram, MP curve, spike rug) paints what it is given, where it is
given, and its legend keys hide and show its parts."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor, QImage

from rmt_gui.ui import spectrum_items, theme
from rmt_gui.ui.spectrum_glyph import SpectrumGlyph, step_outline
from rmt_gui.ui.spectrum_items import SpectrumItems, spread
from tests.helpers.spectrum_plots import spectrum_data

EDGES = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
DENSITY = np.array([1.0, 3.0, 2.0, 0.0])
CURVE_X = np.linspace(0.0, 4.0, 50)
CURVE_Y = np.full(50, 2.5)
SPIKES = np.array([6.0, 8.0])
RUG_Y = -0.25


def painted(qtbot, glyph: SpectrumGlyph) -> tuple[pg.PlotWidget, QImage]:
    """``glyph`` in a 400x300 plot framing x in [-0.5, 9], y in [-0.5, 4]; the rendered image."""
    widget = pg.PlotWidget(background="w")
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.getPlotItem().hideAxis("left")
    widget.getPlotItem().hideAxis("bottom")
    widget.addItem(glyph)
    widget.setRange(xRange=(-0.5, 9.0), yRange=(-0.5, 4.0), padding=0)
    widget.show()
    qtbot.waitExposed(widget)
    return widget, widget.grab().toImage()


def colour_at(widget: pg.PlotWidget, image: QImage, x: float, y: float) -> QColor:
    """The rendered colour at data point ``(x, y)``."""
    point = widget.mapFromScene(widget.getPlotItem().vb.mapViewToScene(pg.Point(x, y)))
    return image.pixelColor(point.x(), point.y())


def is_close(colour: QColor, target: QColor, tolerance: int = 40) -> bool:
    return all(
        abs(a - b) <= tolerance
        for a, b in zip(colour.getRgb()[:3], target.getRgb()[:3], strict=True)
    )


def full_glyph(marker_size: int = 10) -> SpectrumGlyph:
    glyph = SpectrumGlyph(marker_size=marker_size, antialias=False)
    glyph.set_data(EDGES, DENSITY, CURVE_X, CURVE_Y, SPIKES, RUG_Y)
    return glyph


def test_bars_curve_and_spikes_are_painted_where_the_data_says(qtbot) -> None:
    widget, image = painted(qtbot, full_glyph())
    white = QColor("white")
    fill = colour_at(widget, image, 1.5, 1.0)  # inside the 3-high bar
    assert not is_close(fill, white, 10) and fill.blue() > fill.red()
    assert is_close(colour_at(widget, image, 0.5, 1.5), white, 5)  # above the 1-high bar
    assert is_close(colour_at(widget, image, 3.5, 0.5), white, 5)  # the empty last bin
    assert is_close(colour_at(widget, image, 2.0, 2.5), theme.MP_CURVE)
    assert is_close(colour_at(widget, image, 6.0, RUG_Y), theme.SPIKE)
    assert is_close(colour_at(widget, image, 7.0, RUG_Y), white, 5)  # between the two spikes


def test_a_spike_tick_is_marker_size_pixels_tall(qtbot) -> None:
    widget, image = painted(qtbot, full_glyph(marker_size=12))
    centre = widget.mapFromScene(widget.getPlotItem().vb.mapViewToScene(pg.Point(8.0, RUG_Y)))
    column = [image.pixelColor(centre.x(), y) for y in range(image.height())]
    orange = [y for y, colour in enumerate(column) if is_close(colour, theme.SPIKE)]
    assert 11 <= len(orange) <= 13
    assert orange[0] <= centre.y() <= orange[-1]


def test_a_legend_key_hides_and_shows_its_part(qtbot) -> None:
    glyph = full_glyph()
    glyph.key("curve").setVisible(False)
    assert glyph.shown == {"histogram": True, "curve": False, "spikes": True}
    widget, image = painted(qtbot, glyph)
    assert not is_close(colour_at(widget, image, 2.0, 2.5), theme.MP_CURVE)
    glyph.key("curve").setVisible(True)
    assert glyph.shown["curve"]


def test_legend_clicks_reach_the_glyph_through_the_spectrum_legend(qtbot) -> None:
    from rmt_gui.state.plot_data import PlotOptions
    from rmt_gui.ui.spectrum_view import SpectrumView

    view = SpectrumView(PlotOptions(log=False))
    qtbot.addWidget(view)
    samples = {label.text: sample for sample, label in view.legend.items}
    samples["signal spikes"].item.setVisible(False)
    assert view.items.glyph.shown["spikes"] is False


def test_data_round_trips_and_bounds_skip_non_finite_points(qtbot) -> None:
    glyph = SpectrumGlyph()
    curve_y = CURVE_Y.copy()
    curve_y[0] = np.inf
    glyph.set_data(EDGES, DENSITY, CURVE_X, curve_y, SPIKES, RUG_Y)
    np.testing.assert_array_equal(glyph.histogram()[1], DENSITY)
    np.testing.assert_array_equal(glyph.curve()[0], CURVE_X)
    x, y = glyph.spikes()
    np.testing.assert_array_equal(x, SPIKES)
    assert np.all(y == RUG_Y)
    rect = glyph.boundingRect()
    assert np.isfinite([rect.left(), rect.right(), rect.top(), rect.bottom()]).all()
    assert rect.left() <= 0.0 and rect.right() >= 8.0
    assert rect.top() <= RUG_Y and rect.bottom() >= 3.0


def test_mismatched_bins_are_refused_and_empty_data_paints_nothing(qtbot) -> None:
    glyph = SpectrumGlyph()
    with pytest.raises(ValueError, match="5 bin edges for 5 bins"):
        glyph.set_data(EDGES, np.ones(5), CURVE_X, CURVE_Y, SPIKES, RUG_Y)
    glyph.clear()
    assert glyph.histogram()[1].size == 0 and glyph.boundingRect().isEmpty()
    assert step_outline(np.zeros(0), np.zeros(0)).isEmpty()


def test_the_outline_rises_from_the_baseline_and_returns_to_it() -> None:
    path = step_outline(EDGES, DENSITY)
    points = [(path.elementAt(i).x, path.elementAt(i).y) for i in range(path.elementCount())]
    assert points[0] == (0.0, 0.0) and points[-1] == (4.0, 0.0)
    assert (1.0, 3.0) in points and (2.0, 3.0) in points


def test_the_line_names_are_placed_once_per_update(qtbot, monkeypatch) -> None:
    plot = pg.PlotItem()
    items = SpectrumItems(plot, live=True)
    calls = []
    monkeypatch.setattr(spectrum_items, "spread", lambda *a: (calls.append(1), spread(*a))[1])
    items.update(spectrum_data(-3.0, -1.0, 10.0))  # both lines move and the range changes
    assert len(calls) == 1
    items.update(spectrum_data(-2.0, -0.5, 5.0))
    assert len(calls) == 2
    assert items.tags.items[0].isVisible()


def test_an_update_repaints_inside_the_view_only_and_auto_range_sees_all_data(qtbot) -> None:
    glyph = full_glyph()
    widget, _ = painted(qtbot, glyph)
    view = widget.getPlotItem().vb
    widget.setRange(xRange=(1.0, 3.0), yRange=(0.5, 2.0), padding=0)
    glyph.set_data(EDGES, DENSITY * 2, CURVE_X, CURVE_Y, SPIKES, RUG_Y)
    shown = glyph.mapRectFromView(view.viewRect())
    rect = glyph.boundingRect()
    assert shown.contains(rect) and rect.width() > 0
    assert glyph.dataBounds(0) == (0.0, 8.0) and glyph.dataBounds(1) == (RUG_Y, 6.0)
    view.autoRange(padding=0)
    (x0, x1), (y0, y1) = view.viewRange()
    assert x0 <= 0.0 and x1 >= 8.0 and y0 <= RUG_Y and y1 >= 6.0
