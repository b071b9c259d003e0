"""The app's view box: plots build pyqtgraph's context menu at the first right-click, not as
they are made; live plots (training, small multiples) have none at all. (A new range moving the
items at once is tested with the live plots, in test_train_drawing.)"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.ui.multiples_view import MultiplesView
from rmt_gui.ui.spectrum_view import SpectrumView
from rmt_gui.ui.train_curves import TrainCurves
from rmt_gui.ui.view_box import AppViewBox, plot_widget

OFFSCREEN_CLICKS = pytest.mark.qt_log_ignore(
    "Mouse event .* not accepted",  # the scene takes the click as a pyqtgraph mouse event
    "This plugin does not support (raise|grabbing the keyboard)",  # a popup, offscreen
)


def shown_plot(qtbot):
    """A plot widget with a lazily built menu, shown."""
    widget = plot_widget()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    return widget


def right_click(qtbot, widget) -> None:
    viewport = widget.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.RightButton, pos=viewport.rect().center())


@OFFSCREEN_CLICKS
def test_the_menu_is_built_at_the_first_right_click_and_shown(qtbot) -> None:
    widget = shown_plot(qtbot)
    box = widget.getPlotItem().vb
    assert isinstance(box, AppViewBox) and box.menu is None and box.menuEnabled()
    right_click(qtbot, widget)
    menu = box.menu
    assert menu is not None
    qtbot.waitUntil(menu.isVisible)
    assert "View All" in [action.text() for action in menu.actions()]
    menu.hide()
    right_click(qtbot, widget)
    assert box.menu is menu


@OFFSCREEN_CLICKS
def test_a_disabled_menu_is_never_built_nor_shown(qtbot) -> None:
    widget = shown_plot(qtbot)
    widget.getPlotItem().setMenuEnabled(False)
    right_click(qtbot, widget)
    box = widget.getPlotItem().vb
    assert box.menu is None and not box.menuEnabled()
    assert box.getContextMenus(None) == []


def test_the_explorer_plot_waits_for_a_right_click_and_live_plots_have_no_menu(qtbot) -> None:
    spectrum = SpectrumView(PlotOptions("eigen", True, 60))
    curves = TrainCurves()
    grid = MultiplesView(PlotOptions("eigen", True, 60), live=True)
    for widget in (spectrum, curves, grid):
        qtbot.addWidget(widget)
    grid.prepare(2)
    assert spectrum.plot.vb.menu is None and spectrum.plot.vb.menuEnabled()
    live = [curves.loss, curves.accuracy, *(plot for plot, _items in grid._pool)]
    assert live and all(p.vb.menu is None and not p.vb.menuEnabled() for p in live)
