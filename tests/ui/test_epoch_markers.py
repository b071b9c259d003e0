"""The accuracy plot marks each epoch with one glyph item per run (dots for test, squares for
train), keyed in the legend like pyqtgraph's own curves."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from rmt_gui.state.training import RunState
from rmt_gui.ui.epoch_markers import EpochKey, EpochMarkers
from rmt_gui.ui.train_curves import RUN_COLOURS, TrainCurves
from tests.helpers.training_events import EPOCHS, run_events


def finished_run(tmp_path) -> RunState:
    run = RunState("RMT-pruned", tmp_path)
    for event in run_events(pruned=True):
        run.apply(event)
    return run


def test_each_epoch_is_marked_and_no_scatter_is_left(qtbot, tmp_path) -> None:
    curves = TrainCurves()
    qtbot.addWidget(curves)
    curves.reset(EPOCHS)
    run = finished_run(tmp_path)
    curves.show([run])
    markers = curves.runs[0].markers
    epochs, train, test = run.accuracy_curves()
    np.testing.assert_array_equal(markers.points("test")[1], test)
    np.testing.assert_array_equal(markers.points("train")[0], epochs)
    np.testing.assert_array_equal(markers.points("train")[1], train)
    assert not [i for i in curves.accuracy.items if isinstance(i, pg.ScatterPlotItem)]
    assert curves.runs[1].markers.points("test")[0].size == 0  # no baseline yet


def test_the_markers_are_painted_in_the_run_colour(qtbot) -> None:
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(300, 200)
    widget.show()
    qtbot.waitExposed(widget)
    markers = EpochMarkers(RUN_COLOURS[0])
    widget.addItem(markers)
    widget.setRange(xRange=(0, 4), yRange=(0, 4), padding=0)
    markers.set_points((np.array([2.0]), np.array([2.0])), (np.zeros(0), np.zeros(0)))
    qtbot.wait(20)
    image = widget.viewport().grab().toImage()
    centre = widget.mapFromScene(markers.mapToScene(pg.Point(2.0, 2.0)))
    assert image.pixelColor(centre).rgb() == RUN_COLOURS[0].rgb()
    assert markers.dataBounds(0) == (2.0, 2.0) and markers.dataBounds(1) == (2.0, 2.0)


def test_clicking_a_legend_key_hides_its_curve_and_markers(qtbot, tmp_path) -> None:
    curves = TrainCurves()
    qtbot.addWidget(curves)
    entries = [
        (s, label) for s, label in curves.accuracy.legend.items if isinstance(s.item, EpochKey)
    ]
    keys, names = [s for s, _ in entries], [label.text for _, label in entries]
    assert names == ["RMT-pruned test", "RMT-pruned train", "baseline test", "baseline train"]
    train_key = keys[1].item
    train_key.setVisible(False)  # what a click on the legend sample does
    assert not curves.runs[0].train.isVisible() and not curves.runs[0].markers.shown["train"]
    assert curves.runs[0].markers.shown["test"] and curves.runs[0].test.isVisible()
