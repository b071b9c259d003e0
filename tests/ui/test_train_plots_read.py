"""Train tab and explorer leftovers of issue 12: combo boxes show their whole text, the key
names the cutoff for the scale shown, a stopped run's last accuracy is drawn."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

from rmt_gui.jobs.events import RunEnded
from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.state.training import RunState
from rmt_gui.ui import theme
from rmt_gui.ui.spectrum_view import SpectrumView
from rmt_gui.ui.train_curves import MIN_ACCURACY_SPAN, TrainCurves
from rmt_gui.ui.train_spectra import TrainSpectra
from tests.helpers.combo_text import hidden_texts
from tests.helpers.training_events import AFTER, STEPS_PER_EPOCH, params, run_events

BASELINE = "baseline (no pruning)"


def run_of(label: str, events: list, tmp_path: Path, baseline: bool = False) -> RunState:
    """A run state that received ``events``."""
    run = RunState(label, tmp_path / label.split(maxsplit=1)[0], baseline=baseline)
    for event in events:
        run.apply(event)
    return run


def stopped_run(tmp_path: Path, epochs_done: float, accuracy: float) -> RunState:
    """A pruned run cancelled at ``epochs_done`` with the saved model's test ``accuracy``."""
    events = [e for e in run_events(pruned=True) if not isinstance(e, RunEnded)]
    step = int(epochs_done * STEPS_PER_EPOCH)
    events = [e for e in events if getattr(e, "step", 0) <= step]
    ended = RunEnded("cancelled", "cancelled.pt", step, epochs_done, params(AFTER), AFTER,
                     accuracy, accuracy, 1.0)  # fmt: skip
    return run_of("RMT-pruned", [*events, ended], tmp_path)


def test_explorer_scale_box_shows_its_whole_text(qtbot) -> None:
    view = SpectrumView(PlotOptions())
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show()
    QApplication.processEvents()
    assert hidden_texts(view.scale_box) == []
    assert "s²/n" in view.scale_box.currentText()
    assert "Marchenko" in view.scale_box.toolTip()


def test_train_run_box_shows_the_baseline_name_whole(qtbot, tmp_path) -> None:
    spectra = TrainSpectra(PlotOptions())
    qtbot.addWidget(spectra)
    spectra.resize(900, 600)
    runs = [
        run_of("RMT-pruned", run_events(pruned=True), tmp_path),
        run_of(BASELINE, run_events(pruned=False), tmp_path, baseline=True),
    ]
    spectra.set_runs(runs, follow=runs[1])
    spectra.show()
    QApplication.processEvents()
    assert spectra.run_box.currentText() == BASELINE
    assert hidden_texts(spectra.run_box) == []
    assert str(runs[1].run_dir) in spectra.run_box.toolTip()


def test_train_key_names_the_cutoff_for_the_scale_shown(qtbot, tmp_path) -> None:
    spectra = TrainSpectra(PlotOptions())
    qtbot.addWidget(spectra)
    spectra.set_runs([run_of("RMT-pruned", run_events(pruned=True), tmp_path)])
    spectra.redraw()
    assert "λ₊" in spectra.key_label.text()
    spectra.spectrum.scale_box.setCurrentIndex(spectra.spectrum.scale_box.findData("singular"))
    assert "s₊" in spectra.key_label.text() and "λ₊" not in spectra.key_label.text()


def test_stopped_run_shows_the_accuracy_it_saved(qtbot, tmp_path) -> None:
    run = stopped_run(tmp_path, epochs_done=1.5, accuracy=0.42)
    assert "curves" in run.apply(run.ended)
    curves = TrainCurves()
    qtbot.addWidget(curves)
    curves.reset(3)
    curves.show([run])
    x, y = curves.runs[0].test.getData()
    assert list(x) == [1.0, 1.5]
    assert y[-1] == 42.0
    low, high = curves.accuracy.viewRange()[1]
    assert low < 42.0 < high


def test_finished_run_draws_each_epoch_once(qtbot, tmp_path) -> None:
    run = run_of("RMT-pruned", run_events(pruned=True), tmp_path)
    curves = TrainCurves()
    qtbot.addWidget(curves)
    curves.reset(3)
    curves.show([run])
    x, _y = curves.runs[0].test.getData()
    assert list(x) == [1.0, 2.0, 3.0]


def test_a_run_stopped_before_its_first_epoch_gets_a_readable_axis(qtbot, tmp_path) -> None:
    run = stopped_run(tmp_path, epochs_done=0.5, accuracy=0.67)
    curves = TrainCurves()
    qtbot.addWidget(curves)
    curves.reset(3)
    curves.show([run])
    x, y = curves.runs[0].test.getData()
    assert (list(x), list(y)) == ([0.5], [67.0])
    low, high = curves.accuracy.viewRange()[1]
    assert low < 67.0 < high and high - low >= MIN_ACCURACY_SPAN


def test_the_curves_keep_their_layout_when_data_arrives(qtbot, tmp_path) -> None:
    """Labels appearing on an empty live plot re-lay nothing (a re-layout repaints the plot twice
    in one frame), and they do appear."""
    curves = TrainCurves()
    qtbot.addWidget(curves)
    curves.resize(500, 500)
    curves.setVisible(True)
    curves.reset(3)
    qtbot.wait(20)
    boxes = [plot.vb.sceneBoundingRect() for plot in (curves.loss, curves.accuracy)]
    assert not theme.values_shown(curves.accuracy.getAxis("bottom"))
    curves.show([run_of("RMT-pruned", run_events(pruned=True), tmp_path)])
    qtbot.wait(20)
    assert [plot.vb.sceneBoundingRect() for plot in (curves.loss, curves.accuracy)] == boxes
    for plot in (curves.loss, curves.accuracy):
        axis = plot.getAxis("bottom")
        assert theme.values_shown(axis) and axis.tickStrings([1.0, 2.0], 1.0, 1.0) == ["1", "2"]
