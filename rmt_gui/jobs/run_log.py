"""The files a training run leaves in its folder, written as events pass (nothing kept in memory).

::

    RUN_DIR/run.json          configuration, network, how the run ended, checkpoints written
    RUN_DIR/metrics.csv       one row per epoch (train and test loss and accuracy, parameters, time)
    RUN_DIR/metrics.jsonl     the same rows as JSON lines
    RUN_DIR/steps.csv         loss and accuracy of every mini-batch
    RUN_DIR/pruning.jsonl     one line per cut, with every layer's fit and rank change
    RUN_DIR/spectra.jsonl     one line per spectrum snapshot (fits and singular values)
    RUN_DIR/checkpoints/epoch-NNN.pt, RUN_DIR/final.pt or RUN_DIR/cancelled.pt

Rows are flushed as they are written, so a run stopped any way leaves consistent logs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, TextIO

from rmt_gui.errors import FileError
from rmt_gui.jobs.events import (
    CheckpointSaved,
    EpochEnd,
    PruneEvent,
    RunEnded,
    RunStarted,
    SpectrumSnapshot,
    StepLoss,
    TrainEvent,
)
from rmt_gui.model.export import atomic_write

METRIC_FIELDS = (
    "epoch", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "params",
    "seconds", "eval_seconds", "elapsed",
)  # fmt: skip
STEP_FIELDS = ("step", "epoch", "batch", "loss", "accuracy", "elapsed")
LOG_FILES = (
    "run.json", "metrics.csv", "metrics.jsonl", "steps.csv", "pruning.jsonl", "spectra.jsonl",
)  # fmt: skip
CHECKPOINTS = "checkpoints"
FINAL_NAMES = {"final": "final.pt", "cancel": "cancelled.pt"}


def checkpoint_path(run_dir: Path, reason: str, epoch: int) -> Path:
    """Where the checkpoint for ``reason`` (``epoch``, ``final`` or ``cancel``) goes."""
    if reason == "epoch":
        return run_dir / CHECKPOINTS / f"epoch-{epoch:03d}.pt"
    return run_dir / FINAL_NAMES[reason]


def prepare_run_dir(path: str | Path, overwrite: bool = False) -> Path:
    """Create the run folder; a non-empty one needs ``overwrite`` (our old files are removed)."""
    run_dir = Path(path)
    if run_dir.exists() and not run_dir.is_dir():
        raise FileError(run_dir, "is a file; the run folder must be a folder")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not overwrite:
            raise FileError(run_dir, "is not empty; choose another folder or pass --force")
        ours = [run_dir / name for name in (*LOG_FILES, *FINAL_NAMES.values())]
        ours += sorted((run_dir / CHECKPOINTS).glob("epoch-*.pt"))
        for old in ours:
            old.unlink(missing_ok=True)
    try:
        (run_dir / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileError(run_dir, f"cannot create the run folder ({exc.strerror})") from exc
    return run_dir


def _rounded(record: dict[str, Any]) -> dict[str, Any]:
    """Floats to 6 significant digits for the CSV files."""
    return {k: f"{v:.6g}" if isinstance(v, float) else v for k, v in record.items()}


class RunLog:
    """Writes one run's log files from its events; :meth:`close` when the run is over."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._summary: dict[str, Any] = {"started": None, "ended": None, "checkpoints": []}
        self._metrics_csv = self._open("metrics.csv")
        self._metrics_json = self._open("metrics.jsonl")
        self._steps_csv = self._open("steps.csv")
        self._pruning = self._open("pruning.jsonl")
        self._spectra = self._open("spectra.jsonl")
        self._metrics = csv.DictWriter(self._metrics_csv, METRIC_FIELDS)
        self._steps = csv.DictWriter(self._steps_csv, STEP_FIELDS)
        self._metrics.writeheader()
        self._steps.writeheader()

    def _open(self, name: str) -> TextIO:
        return (self.run_dir / name).open("w", encoding="utf-8", newline="")

    def record(self, event: TrainEvent) -> None:
        """Write what ``event`` adds to the logs."""
        if isinstance(event, StepLoss):
            self._steps.writerow(_rounded({f: getattr(event, f) for f in STEP_FIELDS}))
        elif isinstance(event, EpochEnd):
            record = event.to_json()
            self._metrics.writerow(_rounded({f: record[f] for f in METRIC_FIELDS}))
            self._write_line(self._metrics_json, record)
            for handle in (self._metrics_csv, self._steps_csv):
                handle.flush()
        elif isinstance(event, PruneEvent):
            self._write_line(self._pruning, event.to_json())
        elif isinstance(event, SpectrumSnapshot):
            self._write_line(self._spectra, event.to_json())
        elif isinstance(event, CheckpointSaved):
            self._summary["checkpoints"].append(
                {
                    "path": event.path,
                    "step": event.step,
                    "epoch": event.epoch,
                    "reason": event.reason,
                }
            )
            self._write_summary()
        elif isinstance(event, RunStarted | RunEnded):
            self._summary["started" if isinstance(event, RunStarted) else "ended"] = event.to_json()
            self._write_summary()

    @staticmethod
    def _write_line(handle: TextIO, record: dict[str, Any]) -> None:
        handle.write(json.dumps(record) + "\n")
        handle.flush()

    def _write_summary(self) -> None:
        """Rewrite ``run.json`` atomically."""
        text = json.dumps(self._summary, indent=2).encode()
        atomic_write(self.run_dir / "run.json", lambda handle: handle.write(text), force=True)

    def close(self) -> None:
        """Flush and close every file."""
        handles = (self._metrics_csv, self._metrics_json, self._steps_csv, self._pruning)
        for handle in (*handles, self._spectra):
            handle.close()
