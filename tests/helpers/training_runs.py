"""Shared helpers for the training resume tests: MNIST slices, run-folder files, model equality."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import torch

from rmt_gui.jobs.trainer import TrainData
from rmt_gui.model.data import load_mnist
from rmt_gui.model.opener import open_checkpoint
from tests.helpers.paths import DATA_DIR

MAX_WEIGHT_DIFF = 1e-6


def mnist_slice(train: int, test: int) -> TrainData:
    """The first ``train`` training and ``test`` test images of the shared MNIST."""
    return TrainData(
        load_mnist(DATA_DIR, train=True).head(train), load_mnist(DATA_DIR, train=False).head(test)
    )


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV log."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def json_lines(path: Path) -> list[dict]:
    """The records of a JSON-lines log."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a saved model, by name."""
    return dict(open_checkpoint(checkpoint).build_model().state_dict())


def assert_same_model(first: Path, second: Path, tolerance: float = MAX_WEIGHT_DIFF) -> None:
    """Two checkpoints hold the same tensors (names, shapes) within ``tolerance``."""
    a, b = weights(first), weights(second)
    assert list(a) == list(b)
    for name, tensor in a.items():
        assert tensor.shape == b[name].shape, name
        assert float((tensor - b[name]).abs().max()) <= tolerance, name


def assert_logs_match(run_dir: Path, reference: Path) -> None:
    """A resumed run's logs list every step, epoch and cut once, as the uninterrupted run's do
    (the same losses and accuracies; the times differ)."""
    steps, ref_steps = csv_rows(run_dir / "steps.csv"), csv_rows(reference / "steps.csv")
    assert [(r["step"], r["loss"]) for r in steps] == [(r["step"], r["loss"]) for r in ref_steps]
    keys = ("epoch", "step", "train_loss", "train_accuracy", "test_accuracy", "params")
    rows = [[r[k] for k in keys] for r in csv_rows(run_dir / "metrics.csv")]
    assert rows == [[r[k] for k in keys] for r in csv_rows(reference / "metrics.csv")]
    metrics = json_lines(run_dir / "metrics.jsonl")
    assert [m["epoch"] for m in metrics] == [int(r[0]) for r in rows]
    cuts = [(c["step"], c["params_after"]) for c in json_lines(run_dir / "pruning.jsonl")]
    assert cuts == [(c["step"], c["params_after"]) for c in json_lines(reference / "pruning.jsonl")]


def simulate_kill_after(run_dir: Path, epoch: int) -> None:
    """Make a finished run folder look killed just after epoch ``epoch``'s checkpoint: later
    checkpoints and the final model are gone, and later steps were half written."""
    (run_dir / "final.pt").unlink()
    for path in sorted((run_dir / "checkpoints").glob("epoch-*.pt")):
        if int(path.stem.split("-")[1]) > epoch:
            path.unlink()
    with (run_dir / "steps.csv").open("a", encoding="utf-8") as handle:
        handle.write("999,9,9,0.5")


def copy_run(source: Path, target: Path) -> Path:
    """A copy of a run folder to change without touching the original."""
    shutil.copytree(source, target)
    return target
