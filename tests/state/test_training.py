"""The live training state, fed with synthetic runs' events: curves, cuts, layers, table, paths."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rmt_gui.jobs.events import EpochEnd, PruneEvent, RunEnded, StepLoss
from rmt_gui.state.training import (
    RunState,
    TrainingSession,
    baseline_dir,
    duration_text,
    layers_after,
    new_run_dir,
    user_runs_dir,
)
from tests.helpers.training_events import run_events

BATCH = 4


@pytest.fixture(scope="module")
def session() -> tuple[TrainingSession, list, list]:
    """A pruned run and its baseline fed into a session in batches; also their raw events."""
    session = TrainingSession()
    runs = []
    for label, pruned in (("pruned", True), ("baseline", False)):
        run = session.add_run(label, Path(label), not pruned)
        events = run_events(pruned)
        for start in range(0, len(events), BATCH):
            session.apply(run, tuple(events[start : start + BATCH]))
        runs.append(events)
    return session, runs[0], runs[1]


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_curves_are_the_events(session) -> None:
    state, events, _ = session
    run = state.runs[0]
    steps = of(events, StepLoss)
    x, loss = run.loss_curve()
    np.testing.assert_allclose(x, [e.step / 6 for e in steps])
    np.testing.assert_array_equal(loss, [e.loss for e in steps])
    _, smooth = run.smoothed_loss()
    window = max(1, min(50, 6 // 5))
    expected = [np.mean(loss[max(0, i + 1 - window) : i + 1]) for i in range(loss.size)]
    np.testing.assert_allclose(smooth, expected)
    epochs, train, test = run.accuracy_curves()
    ends = of(events, EpochEnd)
    np.testing.assert_array_equal(epochs, [1, 2, 3])
    np.testing.assert_allclose(test, [100 * e.test_accuracy for e in ends])
    np.testing.assert_allclose(train, [100 * e.train_accuracy for e in ends])
    np.testing.assert_allclose(run.cut_positions(), [c.epochs_done for c in of(events, PruneEvent)])
    assert run.status == "finished" and run.done and run.eta() is None


def test_layers_follow_the_cuts(session) -> None:
    state, events, _ = session
    run = state.runs[0]
    ended = of(events, RunEnded)[0]
    assert run.layers == list(ended.layers)
    first = of(events, PruneEvent)[0]
    assert first.layers[0].factorized
    after = layers_after(list(events[0].layers), first)
    assert [layer.layer for layer in after] == ["fc1.0.weight", "fc1.1.weight", "fc2.weight"]
    assert run.successor("fc1.weight") == "fc1.0.weight"
    assert run.successor("fc2.weight") == "fc2.weight"
    assert run.origin("fc1.1.weight") == "fc1.weight"
    assert run.reports()["fc1.0.weight"].info.shape == after[0].shape
    assert run.spectra.final and run.first_spectra.step <= 2


def test_comparison_rows(session) -> None:
    state, events, base_events = session
    rows = state.comparison()
    pruned, baseline = of(events, RunEnded)[0], of(base_events, RunEnded)[0]
    assert [row.label for row in rows] == ["pruned", "baseline"]
    assert rows[0].params == pruned.params < baseline.params == rows[1].params
    assert rows[0].params_fraction == pytest.approx(pruned.params / baseline.params)
    assert rows[1].params_fraction == 1.0
    assert rows[0].test_accuracy == pruned.test_accuracy
    shapes = ", ".join(f"{layer.shape[0]}×{layer.shape[1]}" for layer in pruned.layers)
    assert rows[0].shapes == shapes
    assert "finished at step 18" in state.runs[0].describe(pruned)


def test_progress_and_changes() -> None:
    state = TrainingSession()
    run = state.add_run("r", Path("x"))
    assert state.take_changes() == {"status", "table"} and state.take_changes() == set()
    assert run.state_text().endswith("loading MNIST and building the network…")
    run.fail("boom")
    assert run.done and "failed: boom" in run.state_text()
    assert isinstance(state.current, RunState)


def test_paths_and_durations(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if sys.platform.startswith("linux"):
        assert user_runs_dir() == tmp_path / "data" / "rmt-gui" / "runs"
    now = time.time()
    first = new_run_dir(tmp_path, now)
    first.mkdir()
    second = new_run_dir(tmp_path, now)
    assert second != first and second.name.startswith(first.name)
    assert baseline_dir(first).name == f"{first.name}-baseline"
    assert [duration_text(s) for s in (4.4, 65, 3725)] == ["4s", "1m05s", "1h02m"]


def test_an_epoch_end_changes_the_accuracy_not_the_loss() -> None:
    events = run_events(pruned=True)
    run = RunState("r", Path("x"))
    changes = [run.apply(event) for event in events]
    kinds = {type(event): parts for event, parts in zip(events, changes, strict=True)}
    assert kinds[EpochEnd] == {"accuracy", "progress"}
    assert kinds[StepLoss] == {"curves", "progress"}
    assert {"curves", "accuracy", "spectra"} <= kinds[PruneEvent]
    assert {"curves", "accuracy"} <= kinds[RunEnded]
