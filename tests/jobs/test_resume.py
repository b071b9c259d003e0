"""Resuming training runs: exact continuation, honest cancel, checkpoint state, refusals."""

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from rmt_gui.errors import FileError
from rmt_gui.jobs.config import ConfigError, PruneConfig, TrainConfig
from rmt_gui.jobs.events import CheckpointSaved, EpochEnd, StepLoss
from rmt_gui.jobs.resume import find_resume_point, load_point
from rmt_gui.jobs.run_log import RunLog, rewind_logs
from rmt_gui.jobs.trainer import TrainData, Trainer
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.opener import open_checkpoint
from tests.helpers.training_runs import (
    assert_logs_match,
    assert_same_model,
    copy_run,
    csv_rows,
    json_lines,
    mnist_slice,
    simulate_kill_after,
)

# 400 images in batches of 100: 4 steps per epoch, 3 epochs; random-subset cuts at 0, 3, 6, 9.
CUTS = PruneConfig.from_options(every_steps=3, variant="random", skip_poor_fit=False)
CONFIG = TrainConfig(dims=(784, 32, 10), epochs=3, batch_size=100, seed=7, prune=CUTS)


@pytest.fixture(scope="module")
def data() -> TrainData:
    return mnist_slice(400, 200)


@pytest.fixture(scope="module")
def reference(data: TrainData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run's folder."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    ended = list(Trainer(CONFIG, run_dir=run_dir, data=data).run())[-1]
    assert ended.status == "finished"
    return run_dir


def stopped_at(step: int, run_dir: Path, data: TrainData) -> list:
    """The events of a run cancelled once ``step`` is done."""
    trainer = Trainer(CONFIG, run_dir=run_dir, data=data)
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, StepLoss) and event.step == step:
            trainer.cancel.cancel()
    return events


def resume(run_dir: Path, data: TrainData) -> list:
    return list(Trainer(run_dir=run_dir, data=data, resume=find_resume_point(run_dir)).run())


def test_stop_then_resume_equals_the_uninterrupted_run(
    data: TrainData, reference: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    stopped = stopped_at(5, run_dir, data)
    assert stopped[-1].status == "cancelled" and stopped[-1].step == 5
    point = find_resume_point(run_dir)
    assert point.path == run_dir / "cancelled.pt" and (point.state.epoch, point.state.batch) == (
        2,
        1,
    )
    factorised = [layer.layer for layer in stopped[-1].layers]
    assert factorised == ["fc1.0.weight", "fc1.1.weight", "fc2.weight"]
    events = resume(run_dir, data)
    assert events[0].layers == stopped[-1].layers and events[0].params == stopped[-1].params
    assert [e.step for e in events if isinstance(e, StepLoss)] == list(range(6, 13))
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [2, 3]
    assert events[-1].status == "finished" and events[-1].step == 12
    assert_same_model(run_dir / "final.pt", reference / "final.pt")
    assert_logs_match(run_dir, reference)
    assert not (run_dir / "cancelled.pt").exists()
    summary = json.loads((run_dir / "run.json").read_text())
    assert summary["ended"]["status"] == "finished"
    assert [c["reason"] for c in summary["checkpoints"]] == ["epoch", "epoch", "epoch", "final"]
    assert [(r["from"], r["step"]) for r in summary["resumes"]] == [(str(point.path), 5)]
    assert summary["resumes"][0]["started"]["params"] == stopped[-1].params
    history = open_checkpoint(run_dir / "final.pt").history
    assert any(line.startswith("stopped at step 5: test accuracy") for line in history)
    assert "resumed from cancelled.pt at step 5" in history


def test_killed_run_resumes_from_its_last_epoch_checkpoint(
    data: TrainData, reference: Path, tmp_path: Path
) -> None:
    run_dir = copy_run(reference, tmp_path / "run")
    simulate_kill_after(run_dir, 1)
    (run_dir / "metrics.csv").write_text("epoch,step\n")
    (run_dir / "metrics.jsonl").write_text("")
    point = find_resume_point(run_dir)
    assert point.path.name == "epoch-001.pt" and (point.state.epoch, point.state.batch) == (2, 0)
    events = resume(run_dir, data)
    assert next(e for e in events if isinstance(e, StepLoss)).step == 5
    assert_same_model(run_dir / "final.pt", reference / "final.pt")
    assert_logs_match(run_dir, reference)
    assert "999,9,9,0.5" not in (run_dir / "steps.csv").read_text()


def test_a_corrupt_last_checkpoint_falls_back_to_the_one_before(
    data: TrainData, reference: Path, tmp_path: Path
) -> None:
    run_dir = copy_run(reference, tmp_path / "run")
    simulate_kill_after(run_dir, 2)
    last = run_dir / "checkpoints" / "epoch-002.pt"
    last.write_bytes(last.read_bytes()[:5000])
    point = find_resume_point(run_dir)
    assert point.path.name == "epoch-001.pt"
    (note,) = point.notes
    assert note.startswith(f"{last}: unreadable checkpoint") and note.endswith("epoch-001.pt")
    assert "\n" not in note
    resume(run_dir, data)
    assert_same_model(run_dir / "final.pt", reference / "final.pt")
    assert_logs_match(run_dir, reference)


def test_a_cancelled_run_reports_the_accuracy_of_the_model_it_saved(
    data: TrainData, tmp_path: Path
) -> None:
    events = stopped_at(6, tmp_path, data)
    ended = events[-1]
    saved = open_checkpoint(ended.model_path)
    measured = evaluate(saved.build_model(), data.test).accuracy
    assert ended.test_accuracy == measured == saved.metadata["test_accuracy"]
    epochs = [e.test_accuracy for e in events if isinstance(e, EpochEnd)]
    assert ended.best_test_accuracy == max([*epochs, measured])
    assert f"stopped at step 6: test accuracy {100 * measured:.2f}%" in saved.history


def test_checkpoints_are_on_disk_before_their_metrics_row_and_load_weights_only(
    data: TrainData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original, seen = RunLog.record, []

    def record(log: RunLog, event: object) -> None:
        if isinstance(event, EpochEnd):
            seen.append((log.run_dir / "checkpoints" / f"epoch-{event.epoch:03d}.pt").is_file())
        original(log, event)

    monkeypatch.setattr(RunLog, "record", record)
    trainer = Trainer(dataclasses.replace(CONFIG, epochs=2), run_dir=tmp_path, data=data)
    events = list(trainer.run())
    assert seen == [True, True]
    saves = [e for e in events if isinstance(e, CheckpointSaved)]
    assert [(e.epoch, e.step, e.reason) for e in saves] == [
        (1, 4, "epoch"), (2, 8, "epoch"), (2, 8, "final"),
    ]  # fmt: skip
    payload = torch.load(tmp_path / "checkpoints" / "epoch-001.pt", weights_only=True)
    state = payload["training"]
    assert state["config"] == dataclasses.replace(CONFIG, epochs=2).to_json()
    assert (state["epoch"], state["batch"], state["step"]) == (2, 0, 4)
    assert payload["architecture"]["chain"] == ["fc1", "fc2"]
    shapes = [tuple(t.shape) for t in payload["state_dict"].values()]
    buffers = [tuple(s["momentum_buffer"].shape) for s in state["optimizer"]["state"].values()]
    assert buffers == shapes and shapes[0] != (32, 784)
    assert {k: (v.dtype, v.numel()) for k, v in state["rng"].items()} == dict.fromkeys(
        ("torch", "order", "subsets"), (torch.uint8, 5056)
    )
    assert [m["epoch"] for m in state["metrics"]] == [1]
    assert "training" not in torch.load(tmp_path / "final.pt", weights_only=True)


def test_a_resume_keeps_the_run_settings_but_may_change_threads(
    data: TrainData, reference: Path, tmp_path: Path
) -> None:
    run_dir = copy_run(reference, tmp_path / "run")
    simulate_kill_after(run_dir, 1)
    point = find_resume_point(run_dir)
    with pytest.raises(ConfigError, match="keeps its settings"):
        Trainer(dataclasses.replace(CONFIG, lr=0.1), run_dir=run_dir, resume=point)
    with pytest.raises(ConfigError, match="run folder"):
        Trainer(resume=point)
    trainer = Trainer(dataclasses.replace(CONFIG, threads=1), run_dir=run_dir, resume=point)
    assert trainer.config == dataclasses.replace(CONFIG, threads=1)
    with pytest.raises(FileError, match="does not fit 3 steps per epoch"):
        list(Trainer(run_dir=run_dir, data=mnist_slice(300, 50), resume=point).run())


def finished_folder(folder: Path) -> None:
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "final.pt").write_bytes(b"x")
    (folder / "run.json").write_text(json.dumps({"started": {"config": {"epochs": 10}}}))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: None, "no such run folder"),
        (lambda d: d.write_text("x"), "is a file, not a run folder"),
        (lambda d: d.mkdir(), "is not a training run folder"),
        (finished_folder, "nothing to resume: the run finished all 10 epochs"),
        (lambda d: (d / "checkpoints").mkdir(parents=True), "no checkpoint was saved"),
    ],
)
def test_what_is_not_resumable_is_refused_in_one_line(make, message: str, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    make(folder)
    with pytest.raises(FileError) as caught:
        find_resume_point(folder)
    assert str(caught.value).startswith(f"{folder}: ") and message in str(caught.value)


def tamper(payload: dict, change: str) -> None:
    """Damage one part of a checkpoint as an attacker (or a bad disk) might."""
    state = payload["training"]
    first = next(iter(payload["state_dict"]))
    if change == "legacy":
        del payload["training"]
    elif change == "config":
        state["config"]["epochs"] = "three"
    elif change == "unknown setting":
        state["config"]["rm -rf"] = 1
    elif change == "momentum":
        state["optimizer"]["state"][0]["momentum_buffer"] = torch.zeros(3)
    elif change == "rng":
        state["rng"]["order"] = torch.zeros(5056, dtype=torch.int64)
    elif change == "epoch":
        state["epoch"] = 99
    elif change == "metrics":
        state["metrics"] = [{"epoch": "one"}]
    elif change == "nan weight":
        payload["state_dict"][first] = torch.full_like(payload["state_dict"][first], math.nan)
    elif change == "float64":
        payload["state_dict"][first] = payload["state_dict"][first].double()
    elif change == "history":
        payload["history"] = "not a list"
    elif change == "elapsed":
        state["elapsed"] = math.inf


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("legacy", "has no training state"),
        ("config", "'epochs' must be int"),
        ("unknown setting", "unknown training setting 'rm -rf'"),
        ("momentum", "momentum of parameter 0 does not fit"),
        ("rng", "'order' generator state is malformed"),
        ("epoch", "epoch 99 does not fit the run"),
        ("metrics", "'epoch' is missing or malformed"),
        ("nan weight", "not float32 or not finite"),
        ("float64", "not float32 or not finite"),
        ("history", "history is malformed"),
        ("elapsed", "'elapsed' must be a finite number"),
    ],
)
def test_a_tampered_checkpoint_is_refused_in_one_line(
    change: str, message: str, data: TrainData, reference: Path, tmp_path: Path
) -> None:
    path = tmp_path / "epoch-001.pt"
    payload = torch.load(reference / "checkpoints" / "epoch-001.pt", weights_only=True)
    tamper(payload, change)
    torch.save(payload, path)
    with pytest.raises(FileError) as caught:
        list(Trainer(run_dir=tmp_path, data=data, resume=load_point(path)).run())
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_rewinding_the_logs_keeps_what_came_before_the_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "steps.csv").write_text(
        "step,epoch,batch,loss,accuracy,elapsed\r\n"
        + "".join(f"{s},1,{s},0.5,0.1,{s}\r\n" for s in range(1, 7))
        + "7,2,1,0.4"
    )
    lines = [{"event": "prune", "step": 0}, {"event": "prune", "step": 4}, "not json"]
    (tmp_path / "pruning.jsonl").write_text(
        "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    )
    spectra = [{"step": 3, "final": False}, {"step": 4, "final": False}, {"step": 4, "final": True}]
    (tmp_path / "spectra.jsonl").write_text("".join(json.dumps(x) + "\n" for x in spectra))
    (tmp_path / "run.json").write_text(json.dumps({"started": {"params": 5}, "checkpoints": 7}))
    epoch = EpochEnd(1, 4, 0.5, 0.1, 0.6, 0.2, 100, 1.0, 0.1, 1.5)
    summary = rewind_logs(tmp_path, 4, [epoch], tmp_path / "checkpoints" / "epoch-001.pt")
    assert [int(r["step"]) for r in csv_rows(tmp_path / "steps.csv")] == [1, 2, 3, 4]
    assert [r["step"] for r in json_lines(tmp_path / "pruning.jsonl")] == [0]
    assert json_lines(tmp_path / "spectra.jsonl") == [spectra[0]]
    assert [r["test_accuracy"] for r in csv_rows(tmp_path / "metrics.csv")] == ["0.2"]
    assert json_lines(tmp_path / "metrics.jsonl") == [epoch.to_json()]
    assert summary == json.loads((tmp_path / "run.json").read_text())
    assert summary["started"] == {"params": 5} and summary["checkpoints"] == []
    assert summary["ended"] is None and summary["resumes"][0]["step"] == 4


def test_train_config_reads_back_its_json_and_refuses_bad_types() -> None:
    assert TrainConfig.from_json(CONFIG.to_json()) == CONFIG
    baseline = dataclasses.replace(CONFIG, prune=None, limit_train=50, lr=1)
    assert TrainConfig.from_json(baseline.to_json()) == dataclasses.replace(baseline, lr=1.0)
    bad = [
        ([], "not a JSON object"),
        ({"epochs": True}, "'epochs' must be int"),
        ({"dims": [784, "x", 10]}, "'dims' must be list"),
        ({"lr": "0.1"}, "'lr' must be float"),
        ({"epochs": 10**9}, "epochs must be at most 10,000"),
        ({"seed": -1}, "seed must be between 0"),
        ({"momentum": math.nan}, "momentum must be in [0, 1)"),
    ]
    for record, message in bad:
        with pytest.raises(ConfigError) as caught:
            TrainConfig.from_json(record)
        assert message in str(caught.value)
