"""Live drawing in the Train tab keeps its axes still: ranges with room to grow, fixed widths,
cells of a new grid hidden (not emptied) until drawn.

Re-laying an axis (new ticks and labels) is the dearest part of a repaint, so the live views
re-range only when the data leaves the range, and then leave room where it is heading.
"""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QObject

from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.state.training import RunState
from rmt_gui.ui import theme
from rmt_gui.ui.multiples_view import MultiplesView
from rmt_gui.ui.spectrum_items import LIVE_SLACK, SpectrumItems
from rmt_gui.ui.train_curves import AXIS_PX, TrainCurves, frame_y
from rmt_gui.ui.view_box import plot_widget
from tests.helpers.spectrum_plots import spectrum_data
from tests.helpers.training_events import AFTER, BEFORE, EPOCHS, run_events, spectra


def y_range(plot: pg.PlotItem) -> list[float]:
    return list(plot.viewRange()[1])


def test_frame_y_leaves_room_ahead(qtbot) -> None:
    plot = pg.PlotItem()
    frame_y(plot, 2.0, 3.0, below=0.3, above=0.1)
    assert y_range(plot) == pytest.approx([1.7, 3.1])
    frame_y(plot, 1.75, 3.0, below=0.3, above=0.1)  # the loss fell, but within the room left
    assert y_range(plot) == pytest.approx([1.7, 3.1])
    frame_y(plot, 1.5, 3.0, below=0.3, above=0.1)
    assert y_range(plot) == pytest.approx([1.05, 3.15])


def test_curve_axes_keep_their_width(qtbot) -> None:
    curves = TrainCurves()
    qtbot.addWidget(curves)
    curves.setVisible(True)
    for plot in (curves.loss, curves.accuracy):
        for low, high in ((-4.0, 0.5), (10.0, 100.0)):
            plot.setYRange(low, high)
            qtbot.wait(1)
            assert plot.getAxis("left").width() == AXIS_PX


def test_live_spectrum_keeps_its_range_while_the_data_fits(qtbot) -> None:
    plot = pg.PlotItem()
    items = SpectrumItems(plot, live=True)
    items.update(spectrum_data(-3.0, -1.0, 10.0))
    first = plot.viewRange()
    top = SpectrumItems.y_top(items.data)
    assert first[1][1] == pytest.approx(top * (1 + LIVE_SLACK[1]))
    items.update(spectrum_data(-3.05, -0.95, 11.5))  # a little wider and higher: still framed
    assert plot.viewRange() == first
    items.update(spectrum_data(-3.0, -1.0, 30.0))  # much higher: re-ranged, with room again
    assert y_range(plot)[1] == pytest.approx(SpectrumItems.y_top(items.data) * 1.25)
    assert plot.viewRange()[0] == first[0]


def test_explorer_spectrum_frames_every_report_exactly(qtbot) -> None:
    plot = pg.PlotItem()
    items = SpectrumItems(plot)
    items.update(spectrum_data(-3.0, -1.0, 10.0))
    items.update(spectrum_data(-3.05, -0.95, 11.5))
    assert y_range(plot)[1] == pytest.approx(SpectrumItems.y_top(items.data))


def test_new_grid_hides_cells_until_their_reports_are_drawn(qtbot) -> None:
    view = MultiplesView(PlotOptions(), live=True)
    qtbot.addWidget(view)
    view.setVisible(True)
    before = {r.name: r for r in spectra(0, BEFORE).reports}
    view.set_reports([layer.layer for layer in BEFORE], before)
    after = {r.name: r for r in spectra(6, AFTER).reports}
    names = [layer.layer for layer in AFTER]
    view.set_reports(names, {"fc1.0.weight": after["fc1.0.weight"]}, only="fc1.0.weight")
    shown = {name: view.cells[name][0].isVisible() for name in names}
    assert shown == {"fc1.0.weight": True, "fc1.1.weight": False, "fc2.weight": False}
    assert view.title("fc1.1.weight").endswith("…")
    view.update_report("fc1.1.weight", after["fc1.1.weight"])
    plot, items = view.cells["fc1.1.weight"]
    assert plot.isVisible() and items.data is not None
    assert "n_signal" in view.title("fc1.1.weight")


def test_a_value_axis_keeps_its_width_when_longer_labels_appear(qtbot) -> None:
    widget = pg.PlotWidget(axisItems=theme.value_axes())
    qtbot.addWidget(widget)
    widget.resize(500, 300)
    widget.show()
    plot = widget.getPlotItem()
    plot.setYRange(0.0, 1.0, padding=0)
    qtbot.waitExposed(widget)
    axis = plot.getAxis("left")
    width = axis.width()
    plot.setYRange(0.0, 20_000.0, padding=0)
    widget.grab()
    qtbot.wait(1)
    assert axis.width() == width
    assert width >= axis.label.boundingRect().height()


def test_a_grid_laid_out_ahead_only_fills_its_plots_in(qtbot, monkeypatch) -> None:
    view = MultiplesView(PlotOptions(), live=True)
    qtbot.addWidget(view)
    view.place_ahead(2)
    placed = [plot for plot, _ in view._pool if plot in view.canvas.ci.items]
    assert len(placed) == 3 and not any(plot.isVisible() for plot in placed)
    added = []
    monkeypatch.setattr(view.canvas.ci, "addItem", lambda *a, **k: added.append(a))
    view.setVisible(True)
    after = {r.name: r for r in spectra(6, AFTER).reports}
    view.set_reports([layer.layer for layer in AFTER], after)
    assert added == []
    assert all(plot.isVisible() for plot, _ in view.cells.values())
    view.place_ahead(6)  # a grid is shown: laying out ahead would move its plots
    assert added == []


class PaintCounter(QObject):
    """Counts the paints of a widget (an event filter on it)."""

    def __init__(self, widget) -> None:
        super().__init__(widget)
        self.paints = 0
        widget.installEventFilter(self)

    def eventFilter(self, _watched, event) -> bool:
        self.paints += event.type() == QEvent.Type.Paint
        return False


def paints_of(qtbot, view: pg.GraphicsView, change) -> int:
    """How often ``view`` paints for ``change()``, once it has painted nothing for 100 ms (a
    loaded machine may still be painting the view's first frame)."""
    counter = PaintCounter(view.viewport())
    seen = -1
    while seen != counter.paints:
        seen = counter.paints
        qtbot.wait(100)
    counter.paints = 0
    change()
    qtbot.waitUntil(lambda: counter.paints > 0)
    qtbot.wait(50)  # a second paint would follow the first at once
    return counter.paints


def test_a_re_ranged_live_plot_paints_once(qtbot) -> None:
    """pyqtgraph moves a plot's items to a new range as it starts painting, which marked them
    dirty again and painted the plot a second time; the live views apply the range at once."""
    curves = TrainCurves()
    qtbot.addWidget(curves)
    curves.resize(420, 600)
    curves.setVisible(True)
    frame_y(curves.accuracy, 90.0, 95.0, 0.1, 0.1)
    curves.accuracy.plot([1, 2, 3], [91.0, 93.0, 94.0])
    assert (
        paints_of(qtbot, curves.canvas, lambda: frame_y(curves.accuracy, 80.0, 99.0, 0.1, 0.1)) == 1
    )
    widget = plot_widget()
    qtbot.addWidget(widget)
    widget.resize(420, 300)
    widget.show()
    items = SpectrumItems(widget.getPlotItem(), live=True)
    items.update(spectrum_data(-3.0, -1.0, 10.0))
    assert paints_of(qtbot, widget, lambda: items.update(spectrum_data(-2.0, 0.5, 30.0))) == 1


def test_cut_markers_are_made_before_the_run_streams(qtbot, tmp_path) -> None:
    """Adding a line to a plot mid-run cost an epoch's frame a millisecond: the markers of a
    run's cuts are made when its plots are reset, and only shown as the cuts arrive."""
    curves = TrainCurves()
    qtbot.addWidget(curves)
    curves.reset(EPOCHS)
    items = {plot: len(plot.items) for plot in (curves.loss, curves.accuracy)}
    run = RunState("RMT-pruned", tmp_path)
    for event in run_events(pruned=True):
        run.apply(event)
    curves.show([run])
    assert {plot: len(plot.items) for plot in items} == items
    for markers in curves.markers:
        assert markers.positions() == list(run.cut_positions()) and len(run.cuts) == EPOCHS
