"""The training engine on a slice of MNIST: event stream, pruning, cancel, pause, seeds, files."""

import csv
import dataclasses
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from rmt_gui.cli import main
from rmt_gui.errors import FileError
from rmt_gui.jobs.config import PruneConfig, SnapshotPolicy, TrainConfig
from rmt_gui.jobs.events import (
    CheckpointSaved,
    EpochEnd,
    Paused,
    PruneEvent,
    Resumed,
    RunEnded,
    RunStarted,
    SpectrumSnapshot,
    StepLoss,
)
from rmt_gui.jobs.trainer import TrainData, Trainer, TrainingError
from rmt_gui.model.data import load_mnist
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.tree import build_mlp
from rmt_gui.spectral import keep_rank
from tests.helpers.paths import DATA_DIR

# 600 images in batches of 100: 6 steps per epoch, 2 epochs, 12 steps.
SMALL = TrainConfig(dims=(784, 32, 10), epochs=2, batch_size=100, seed=5)
EVERY_4 = PruneConfig(every_steps=4)


@pytest.fixture(scope="module")
def data() -> TrainData:
    train = load_mnist(DATA_DIR, train=True).head(600)
    return TrainData(train, load_mnist(DATA_DIR, train=False).head(300))


def run_all(trainer: Trainer) -> list:
    return list(trainer.run())


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def assert_detached(value: object) -> None:
    """No tensor or module anywhere in an event; arrays are read-only."""
    assert not isinstance(value, torch.Tensor | torch.nn.Module)
    if isinstance(value, np.ndarray):
        assert not value.flags.writeable
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            assert_detached(getattr(value, field.name))
    elif isinstance(value, tuple | list):
        for item in value:
            assert_detached(item)


def test_event_stream_order_and_content(data: TrainData, tmp_path: Path) -> None:
    config = dataclasses.replace(SMALL, prune=EVERY_4)
    trainer = Trainer(
        config, run_dir=tmp_path, data=data, snapshots=SnapshotPolicy(3, background=False)
    )
    events = run_all(trainer)
    kinds = [type(e).__name__ for e in events]
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    started, ended = events[0], events[-1]
    assert (started.steps_per_epoch, started.total_steps, started.train_size) == (6, 12, 600)
    assert [layer.shape for layer in started.layers] == [(32, 784), (10, 32)]
    assert [e.step for e in of(events, StepLoss)] == list(range(1, 13))
    assert [e.epoch for e in of(events, StepLoss)] == [1] * 6 + [2] * 6
    assert [e.step for e in of(events, PruneEvent)] == [0, 4, 8]
    for cut in of(events, PruneEvent):
        following = events[events.index(cut) + 1 :]
        assert next(e for e in following if isinstance(e, StepLoss)).step == cut.step + 1
    epochs = of(events, EpochEnd)
    assert [(e.epoch, e.step) for e in epochs] == [(1, 6), (2, 12)]
    assert all(0.0 <= e.test_accuracy <= 1.0 and e.test_loss > 0 for e in epochs)
    assert epochs[1].train_loss < epochs[0].train_loss
    for epoch in epochs:
        assert isinstance(events[events.index(epoch) + 1], CheckpointSaved)
    snaps = of(events, SpectrumSnapshot)
    assert [s.step for s in snaps] == [0, 0, 3, 4, 6, 8, 9, 12, 12]
    assert snaps[-1].final and not any(s.final for s in snaps[:-1])
    assert kinds[-3:] == ["SpectrumSnapshot", "CheckpointSaved", "RunEnded"]
    assert [layer.layer for layer in snaps[-1].layers] == [layer.layer for layer in ended.layers]
    for snap in snaps:
        for layer in snap.layers:
            assert layer.singular_values.size == min(layer.shape)
            assert layer.fit.shape == layer.shape
    assert ended.status == "finished" and ended.step == 12 and ended.epochs_done == 2.0
    assert ended.test_accuracy == epochs[-1].test_accuracy
    assert ended.best_test_accuracy == max(e.test_accuracy for e in epochs)
    assert ended.model_path == str(tmp_path / "final.pt")
    for event in events:
        assert_detached(event)


def test_pruning_changes_shapes_as_the_rule_says(data: TrainData) -> None:
    config = dataclasses.replace(
        SMALL, prune=PruneConfig.from_options(every_steps=4, skip_poor_fit=False)
    )
    trainer = Trainer(config, data=data)
    events = run_all(trainer)
    first, *later = of(events, PruneEvent)
    fc1 = first.layers[0]
    k = keep_rank(fc1.n_signal, 32, 0.45, 10)
    assert (fc1.rank_before, fc1.rank_after, fc1.factor_shapes) == (32, k, ((k, 784), (32, k)))
    assert first.params_after == first.params_before - 32 * 784 + k * (784 + 32)
    assert first.layers[1].skipped == "keeps all 10 singular values"
    for cut in later:
        assert [r.layer for r in cut.layers] == ["fc1.0.weight", "fc1.1.weight", "fc2.weight"]
        assert all(r.factor_shapes is None for r in cut.layers)
        assert all(r.rank_after <= r.rank_before or r.skipped for r in cut.layers)
    shapes = [layer.shape for layer in events[-1].layers]
    assert shapes == [(k, 784), (32, k), (10, 32)]
    assert [tuple(p.shape) for p in trainer.model.parameters()] == [
        (k, 784), (32, k), (32,), (10, 32), (10,),
    ]  # fmt: skip


def test_cancel_mid_run_leaves_a_loadable_checkpoint(
    data: TrainData, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    trainer = Trainer(dataclasses.replace(SMALL, prune=EVERY_4), run_dir=tmp_path, data=data)
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, StepLoss) and event.step == 8:
            trainer.cancel.cancel()
    assert max(e.step for e in of(events, StepLoss)) == 8
    ended = events[-1]
    assert ended.status == "cancelled" and ended.step == 8
    assert ended.model_path == str(tmp_path / "cancelled.pt")
    assert of(events, CheckpointSaved)[-1].reason == "cancel"
    assert of(events, SpectrumSnapshot)[-1].final
    checkpoint = open_checkpoint(ended.model_path)
    reloaded = checkpoint.build_model()
    for key, value in trainer.model.state_dict().items():
        torch.testing.assert_close(reloaded.state_dict()[key], value)
    assert checkpoint.metadata["status"] == "cancelled"
    assert main(["evaluate", ended.model_path, "--data", str(DATA_DIR), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == ended.params


def paused_run(data: TrainData, step: int, then: str, delay_s: float) -> list:
    """Events of an unpruned run paused at ``step``; another thread calls ``then`` later
    (``"resume"`` or ``"cancel"``)."""
    trainer = Trainer(dataclasses.replace(SMALL, prune=None), data=data)
    action = trainer.pause.resume if then == "resume" else trainer.cancel.cancel
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, StepLoss) and event.step == step:
            trainer.pause.pause()
            threading.Timer(delay_s, action).start()
    return events


def test_pause_and_resume_from_another_thread(data: TrainData) -> None:
    events = paused_run(data, 3, "resume", 0.2)
    i = next(i for i, e in enumerate(events) if isinstance(e, Paused))
    assert events[i] == Paused(3)
    assert isinstance(events[i + 1], Resumed) and events[i + 1].step == 3
    assert events[i + 1].paused_seconds > 0
    assert isinstance(events[i + 2], StepLoss) and events[i + 2].step == 4
    assert events[-1].status == "finished" and events[-1].step == 12


def test_cancel_while_paused_ends_the_run(data: TrainData) -> None:
    events = paused_run(data, 2, "cancel", 0.1)
    assert isinstance(events[-1], RunEnded) and events[-1].status == "cancelled"
    assert events[-1].step == 2 and not of(events, Resumed)


def test_rate_gate_throttles_snapshots(data: TrainData) -> None:
    throttled = SnapshotPolicy(every_steps=1, max_per_second=1e-6, background=False)
    events = run_all(
        Trainer(dataclasses.replace(SMALL, prune=None), data=data, snapshots=throttled)
    )
    assert [s.step for s in of(events, SpectrumSnapshot)] == [0, 1, 12]
    none = SnapshotPolicy(final=False)
    quiet = run_all(Trainer(dataclasses.replace(SMALL, prune=None), data=data, snapshots=none))
    assert not of(quiet, SpectrumSnapshot)
    final_only = run_all(Trainer(dataclasses.replace(SMALL, prune=None), data=data))
    assert [s.step for s in of(final_only, SpectrumSnapshot)] == [12]


def test_background_snapshots_arrive_in_order_with_the_final_one(data: TrainData) -> None:
    policy = SnapshotPolicy(every_steps=1, background=True)
    events = run_all(
        Trainer(dataclasses.replace(SMALL, prune=EVERY_4), data=data, snapshots=policy)
    )
    snaps = of(events, SpectrumSnapshot)
    steps = [s.step for s in snaps]
    assert steps == sorted(steps) and steps[-1] == 12 and snaps[-1].final
    assert 1 <= len(snaps) <= 1 + 3 + 12 + 1
    assert [layer.shape for layer in snaps[-1].layers] == [s.shape for s in events[-1].layers]


def test_same_seed_same_data_order_and_results(data: TrainData) -> None:
    def losses(config: TrainConfig) -> list[float]:
        return [e.loss for e in run_all(Trainer(config, data=data)) if isinstance(e, StepLoss)]

    baseline = dataclasses.replace(SMALL, prune=None)
    pruned = dataclasses.replace(SMALL, prune=PruneConfig(every_steps=3, first_cut="end"))
    assert losses(baseline) == losses(baseline)
    assert losses(pruned) == losses(pruned)
    base, cut = losses(baseline), losses(pruned)
    assert base[:3] == cut[:3] and base[3:] != cut[3:]
    assert losses(dataclasses.replace(baseline, seed=6))[:3] != base[:3]


def test_starts_from_a_given_model_without_touching_it(data: TrainData) -> None:
    model = build_mlp([784, 32, 10], seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(dataclasses.replace(SMALL, prune=None), data=data, model=model)
    run_all(trainer)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key])
    assert not torch.allclose(trainer.model.fc1.weight, before["fc1.weight"])
    copy = trainer.copy_model()
    assert copy is not trainer.model
    torch.testing.assert_close(copy.fc1.weight, trainer.model.fc1.weight)


def test_diverging_loss_is_reported(data: TrainData) -> None:
    config = dataclasses.replace(SMALL, prune=None, lr=1e12, momentum=0.0)
    with pytest.raises(TrainingError, match="lower learning rate"):
        run_all(Trainer(config, data=data))


def test_run_folder_logs_and_refusal(data: TrainData, tmp_path: Path) -> None:
    config = dataclasses.replace(SMALL, prune=EVERY_4)
    events = run_all(Trainer(config, run_dir=tmp_path, data=data))
    with (tmp_path / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["test_accuracy"]) == pytest.approx(events[-1].test_accuracy, rel=1e-5)
    jsonl = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in jsonl] == [1, 2]
    assert len((tmp_path / "steps.csv").read_text().splitlines()) == 1 + 12
    cuts = [json.loads(line) for line in (tmp_path / "pruning.jsonl").read_text().splitlines()]
    assert [c["step"] for c in cuts] == [0, 4, 8]
    assert cuts[0]["layers"][0]["factorized"] is True
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["ended"]["status"] == "finished"
    assert [c["reason"] for c in summary["checkpoints"]] == ["epoch", "epoch", "final"]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "epoch-001.pt", "epoch-002.pt",
    ]  # fmt: skip
    spectra = (tmp_path / "spectra.jsonl").read_text().splitlines()
    assert json.loads(spectra[-1])["final"] is True
    with pytest.raises(FileError, match="not empty"):
        run_all(Trainer(config, run_dir=tmp_path, data=data))
    again = run_all(
        Trainer(dataclasses.replace(config, epochs=1), run_dir=tmp_path, data=data, overwrite=True)
    )
    assert again[-1].status == "finished"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["epoch-001.pt"]
