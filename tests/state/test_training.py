"""The live training state, fed with a real short run: curves, cuts, layers, table, paths."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rmt_gui.jobs.config import PruneConfig, SnapshotPolicy, TrainConfig
from rmt_gui.jobs.control import CancelToken, PauseGate
from rmt_gui.jobs.events import EpochEnd, PruneEvent, RunEnded, StepLoss
from rmt_gui.jobs.trainer import TrainData
from rmt_gui.jobs.training_job import training_job
from rmt_gui.model.data import load_mnist
from rmt_gui.state.training import (
    RunState,
    TrainingSession,
    baseline_dir,
    duration_text,
    layers_after,
    new_run_dir,
    user_runs_dir,
)
from tests.conftest import DATA_DIR

# 6 steps per epoch, 3 epochs, a cut at the start of every epoch (the first on the init).
CONFIG = TrainConfig(dims=(784, 48, 10), epochs=3, batch_size=100, seed=2, prune=PruneConfig())


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingSession, list, list]:
    """A pruned run and its baseline fed into a session; also their raw events."""
    data = TrainData(load_mnist(DATA_DIR, train=True).head(600),
                     load_mnist(DATA_DIR, train=False).head(300))  # fmt: skip
    folder = tmp_path_factory.mktemp("runs")
    session = TrainingSession()
    runs = []
    for label, config, baseline in (
        ("pruned", CONFIG, False),
        ("baseline", dataclasses.replace(CONFIG, prune=None), True),
    ):
        run = session.add_run(label, folder / label, baseline)
        cancel = CancelToken()
        events = []
        for batch in training_job(config, run.run_dir, SnapshotPolicy(every_steps=2), cancel,
                                  PauseGate(cancel), data=data):  # fmt: skip
            session.apply(run, batch)
            events.extend(batch)
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
