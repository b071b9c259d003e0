"""The Train tab's redraw timer keeps every frame small: the accuracy plot (after an epoch) and
the spectra each get a tick of their own, the loss curves and progress are redrawn at most every
``CURVES_MS``, and the large view queues a small multiple every ``CELLS_EVERY`` frames."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rmt_gui.jobs.events import EpochEnd
from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.state.training import RunState
from rmt_gui.ui.train_curves import TrainCurves
from rmt_gui.ui.train_panel import CURVES_MS
from rmt_gui.ui.train_spectra import CELLS_EVERY, TrainSpectra
from tests.helpers.training_events import EPOCHS, run_events


def events_to_first_epoch_end() -> list:
    """A pruned run's events up to (and with) its first :class:`EpochEnd`."""
    events = run_events(pruned=True)
    end = next(i for i, event in enumerate(events) if isinstance(event, EpochEnd))
    return events[: end + 1]


@pytest.fixture
def panel(window, tmp_path: Path, monkeypatch):
    """The Train tab with a run fed up to its first epoch's end, never over its CPU budget (a
    busy test machine must not skip frames here); ``panel.frames`` lists the parts each frame
    drew."""
    panel = window.training.show()
    run = panel.session.add_run("RMT-pruned", tmp_path / "run")
    panel.spectra.set_runs(panel.session.runs, follow=run)
    panel.curves.reset(EPOCHS)
    panel.session.apply(run, tuple(events_to_first_epoch_end()))
    panel.frames = []
    panel._spectra_at = 0.0  # the draw on showing the tab was long ago
    monkeypatch.setattr(panel, "_over_budget", lambda: False)
    draw = panel._draw
    monkeypatch.setattr(panel, "_draw", lambda parts: (panel.frames.append(set(parts)),
                                                       draw(parts)))  # fmt: skip
    return panel


def test_the_accuracy_and_the_spectra_each_take_a_tick_alone(panel) -> None:
    panel._tick()
    panel._tick()
    assert panel.frames[:2] == [{"accuracy"}, {"spectra"}]
    while panel.spectra.queued:
        panel._tick()
    panel._curves_at = 0.0
    panel._tick()
    assert {"curves", "progress"} <= panel.frames[-1]
    assert not panel.frames[-1] & {"accuracy", "spectra"}


def test_the_loss_curves_wait_for_their_turn(panel) -> None:
    panel.session.take_changes()
    panel.session.mark("curves", "progress")
    panel._curves_at = time.monotonic() + CURVES_MS / 1000  # just drawn, however slow the tick
    panel._tick()
    assert not any(panel.frames)
    panel._curves_at = time.monotonic() - CURVES_MS / 1000
    panel._tick()
    assert panel.frames[-1] == {"curves", "progress"}


def test_the_loss_and_the_accuracy_are_drawn_apart(qtbot, tmp_path: Path) -> None:
    curves = TrainCurves()
    qtbot.addWidget(curves)
    run = RunState("RMT-pruned", tmp_path)
    for event in events_to_first_epoch_end():
        run.apply(event)
    curves.show_loss([run])
    assert curves.runs[0].raw.getData()[0].size == len(run.steps)
    assert curves.runs[0].test.getData()[0] is None
    curves.show_accuracy([run])
    assert list(curves.runs[0].test.getData()[0]) == [1.0]
    assert curves.markers[1].positions() == list(run.cut_positions())


def test_the_grid_takes_a_small_multiple_every_few_frames(qtbot, tmp_path: Path) -> None:
    spectra = TrainSpectra(PlotOptions())
    qtbot.addWidget(spectra)
    spectra.show()
    run = RunState("RMT-pruned", tmp_path)
    for event in run_events(pruned=True):
        run.apply(event)
    spectra.set_runs([run], follow=run)
    spectra.redraw(full=True)
    queued = []
    for _ in range(4 * CELLS_EVERY):
        spectra.redraw(full=False)
        queued.append(spectra.queued)
        while spectra.queued:
            spectra.draw_queued()
    assert sum(queued) == 4
