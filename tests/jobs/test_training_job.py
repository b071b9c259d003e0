"""The app's training job: batching of step events, snapshots as layer reports, pause/cancel."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from rmt_gui.jobs.config import PruneConfig, SnapshotPolicy, TrainConfig
from rmt_gui.jobs.control import CancelToken, PauseGate
from rmt_gui.jobs.events import LiveSpectra, Paused, RunEnded, RunStarted, StepLoss
from rmt_gui.jobs.trainer import TrainData
from rmt_gui.jobs.training_job import batched, live_spectra, mlp_dims, training_job
from rmt_gui.model.data import load_mnist
from rmt_gui.model.surgery import numerical_rank
from rmt_gui.model.tree import build_mlp, tree_from_state_dict
from rmt_gui.spectral import gavish_donoho_rank
from tests.helpers.paths import DATA_DIR

# 600 images in batches of 100: 6 steps per epoch, 2 epochs; a cut every 4 steps.
SMALL = TrainConfig(dims=(784, 32, 10), epochs=2, batch_size=100, seed=5,
                    prune=PruneConfig(every_steps=4))  # fmt: skip


@pytest.fixture(scope="module")
def data() -> TrainData:
    train = load_mnist(DATA_DIR, train=True).head(600)
    return TrainData(train, load_mnist(DATA_DIR, train=False).head(300))


def step(n: int) -> StepLoss:
    return StepLoss(n, 1, n, 1.0 / n, 0.5, 0.01 * n)


def test_steps_are_batched_by_time_and_other_events_flush() -> None:
    ticks = itertools.count()
    events = [step(1), step(2), step(3), Paused(3), step(4), step(5), step(6), step(7)]
    batches = list(batched(events, interval_s=2.5, clock=lambda: float(next(ticks))))
    assert [[type(e).__name__ for e in b] for b in batches] == [
        ["StepLoss", "StepLoss", "StepLoss"], ["Paused"], ["StepLoss", "StepLoss", "StepLoss"],
        ["StepLoss"],
    ]  # fmt: skip
    assert [e for b in batches for e in b] == events


def test_steps_before_a_failure_are_delivered_first() -> None:
    def failing():
        yield step(1)
        yield step(2)
        raise RuntimeError("boom")

    received = []
    with pytest.raises(RuntimeError, match="boom"):
        for batch in batched(failing(), interval_s=60.0):
            received.extend(batch)
    assert received == [step(1), step(2)]


def test_job_events_match_the_engine_and_spectra_become_reports(
    data: TrainData, tmp_path: Path
) -> None:
    cancel = CancelToken()
    snapshots = SnapshotPolicy(every_steps=3, background=False)
    batches = list(training_job(SMALL, tmp_path / "run", snapshots, cancel, PauseGate(cancel),
                                data=data))  # fmt: skip
    events = [e for b in batches for e in b]
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    assert [e.step for e in events if isinstance(e, StepLoss)] == list(range(1, 13))
    spectra = [e for e in events if isinstance(e, LiveSpectra)]
    assert spectra and spectra[-1].final
    final = spectra[-1]
    assert [r.name for r in final.reports] == [layer.layer for layer in events[-1].layers]
    for report in final.reports:
        spectrum = report.analysis.spectrum
        assert report.info.shape == spectrum.shape and report.prunable
        assert report.analysis.rank_gavish_donoho == gavish_donoho_rank(spectrum)
        s = spectrum.singular_values
        assert report.rank == numerical_rank(torch.from_numpy(s.copy()), spectrum.shape)
    assert (tmp_path / "run" / "final.pt").is_file()


def test_job_pauses_and_cancels_through_the_engines_controls(
    data: TrainData, tmp_path: Path
) -> None:
    cancel = CancelToken()
    pause = PauseGate(cancel)
    config = dataclasses.replace(SMALL, epochs=50)
    seen: list = []
    paused = threading.Event()

    def consume() -> None:
        for batch in training_job(config, tmp_path / "run", SnapshotPolicy(), cancel, pause,
                                  data=data):  # fmt: skip
            seen.extend(batch)
            if any(isinstance(e, StepLoss) and e.step >= 5 for e in batch):
                pause.pause()
            if any(isinstance(e, Paused) for e in batch):
                paused.set()

    worker = threading.Thread(target=consume)
    worker.start()
    assert paused.wait(60)
    cancel.cancel()
    worker.join(60)
    assert not worker.is_alive()
    ended = seen[-1]
    assert isinstance(ended, RunEnded) and ended.status == "cancelled"
    assert Path(ended.model_path).name == "cancelled.pt"


def test_mlp_dims() -> None:
    assert mlp_dims(build_mlp((784, 64, 10))) == (784, 64, 10)
    tree = tree_from_state_dict({"a.weight": torch.from_numpy(np.zeros((3, 4), np.float32))})
    assert mlp_dims(tree) is None


def test_live_spectra_keeps_the_snapshot_step() -> None:
    from rmt_gui.jobs.snapshots import compute_snapshot, copy_weights

    model = build_mlp((784, 32, 10), seed=1)
    snapshot = compute_snapshot(7, 0.5, copy_weights(model), PruneConfig())
    live = live_spectra(snapshot)
    assert (live.step, live.epochs_done, live.final) == (7, 0.5, False)
    assert [r.info.shape for r in live.reports] == [(32, 784), (10, 32)]
    for report, layer in zip(live.reports, snapshot.layers, strict=True):
        assert report.analysis.fit is layer.fit
