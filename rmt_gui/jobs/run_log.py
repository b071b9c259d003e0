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
import io
import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any, BinaryIO

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
from rmt_gui.model.atomic_file import atomic_write

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


def metric_row(event: EpochEnd) -> dict[str, Any]:
    """One epoch's ``metrics.csv`` row."""
    record = event.to_json()
    return _rounded({f: record[f] for f in METRIC_FIELDS})


class RunLog:
    """Writes one run's log files from its events; :meth:`close` when the run is over.

    A resumed run passes the ``run.json`` summary :func:`rewind_logs` returned: the files, cut
    back to its checkpoint, are appended to, and its ``RunStarted`` goes to the last resume.
    """

    def __init__(self, run_dir: Path, resumed: dict[str, Any] | None = None) -> None:
        self.run_dir = run_dir
        fresh: dict[str, Any] = {"started": None, "ended": None, "checkpoints": []}
        self._summary: dict[str, Any] = resumed if resumed is not None else fresh
        mode = "w" if resumed is None else "a"
        self._metrics_csv = self._open("metrics.csv", mode)
        self._metrics_json = self._open("metrics.jsonl", mode)
        self._steps_csv = self._open("steps.csv", mode)
        self._pruning = self._open("pruning.jsonl", mode)
        self._spectra = self._open("spectra.jsonl", mode)
        self._metrics = csv.DictWriter(self._metrics_csv, METRIC_FIELDS)
        self._steps = csv.DictWriter(self._steps_csv, STEP_FIELDS)
        if resumed is None:
            self._metrics.writeheader()
            self._steps.writeheader()

    def _open(self, name: str, mode: str) -> IO[str]:
        return (self.run_dir / name).open(mode, encoding="utf-8", newline="")

    def record(self, event: TrainEvent) -> None:
        """Write what ``event`` adds to the logs."""
        if isinstance(event, StepLoss):
            self._steps.writerow(_rounded({f: getattr(event, f) for f in STEP_FIELDS}))
        elif isinstance(event, EpochEnd):
            self._metrics.writerow(metric_row(event))
            self._write_line(self._metrics_json, event.to_json())
            self.flush()
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
        elif isinstance(event, RunStarted):
            resumes = self._summary.get("resumes")
            target = resumes[-1] if self._summary["started"] and resumes else self._summary
            target["started"] = event.to_json()
            self._write_summary()
        elif isinstance(event, RunEnded):
            self._summary["ended"] = event.to_json()
            self._write_summary()

    @staticmethod
    def _write_line(handle: IO[str], record: dict[str, Any]) -> None:
        handle.write(json.dumps(record) + "\n")
        handle.flush()

    def _write_summary(self) -> None:
        """Rewrite ``run.json`` atomically."""
        write_summary(self.run_dir, self._summary)

    def _handles(self) -> tuple[IO[str], ...]:
        return (
            self._metrics_csv, self._metrics_json, self._steps_csv, self._pruning, self._spectra,
        )  # fmt: skip

    def flush(self) -> None:
        """Put every row written so far on disk (before a checkpoint is written)."""
        for handle in self._handles():
            handle.flush()

    def close(self) -> None:
        """Flush and close every file."""
        for handle in self._handles():
            handle.close()


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    """Write ``run.json`` atomically."""
    text = json.dumps(summary, indent=2).encode()
    atomic_write(run_dir / "run.json", lambda handle: handle.write(text), force=True)


def read_summary(run_dir: Path) -> dict[str, Any]:
    """``run.json`` as a dict, or ``{}`` when it is missing or unreadable."""
    try:
        summary = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _step_row_to(step: int, line: str) -> bool:
    """Whether ``line`` is a complete ``steps.csv`` row of a step up to ``step``."""
    row = next(csv.reader([line]), [])
    if len(row) != len(STEP_FIELDS):
        return False
    try:
        return int(row[0]) <= step
    except ValueError:
        return False


def _json_line_before(step: int, drop_final: bool, line: str) -> bool:
    """Whether ``line`` is a JSON record of a step before ``step`` (and, with ``drop_final``,
    not a run's final snapshot)."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    if not isinstance(record, dict) or (drop_final and record.get("final")):
        return False
    found = record.get("step")
    return isinstance(found, int) and not isinstance(found, bool) and found < step


def _keep_lines(path: Path, header: str, keep: Callable[[str], bool]) -> None:
    """Rewrite ``path`` atomically as ``header`` plus its complete lines that ``keep`` accepts
    (read as a stream: a spectra log may be large)."""

    def write(handle: BinaryIO) -> None:
        handle.write(header.encode())
        if not path.is_file():
            return
        with path.open(encoding="utf-8", errors="replace", newline="") as source:
            for line in source:
                if line.endswith("\n") and keep(line):
                    handle.write(line.encode())

    atomic_write(path, write, force=True)


def _csv_text(fields: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    """A CSV file's text as ``csv.DictWriter`` writes it."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fields)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode()), force=True)


def rewind_logs(
    run_dir: Path, step: int, metrics: Sequence[EpochEnd], checkpoint: Path
) -> dict[str, Any]:
    """Cut the logs back to a checkpoint at ``step`` so a resumed run appends no duplicate row.

    Steps up to ``step`` stay; cuts and spectra from ``step`` on go (they come again after the
    resume), as do final spectra; the metrics are the checkpoint's own finished epochs, so an
    epoch whose row was not yet written when the run was killed gets it back. Returns the
    ``run.json`` summary with the later checkpoints dropped and this resume added.
    """
    try:
        (run_dir / CHECKPOINTS).mkdir(exist_ok=True)
    except OSError as exc:
        raise FileError(run_dir, f"cannot write into the run folder ({exc.strerror})") from exc
    _keep_lines(run_dir / "steps.csv", _csv_text(STEP_FIELDS, []), partial(_step_row_to, step))
    _keep_lines(run_dir / "pruning.jsonl", "", partial(_json_line_before, step, False))
    _keep_lines(run_dir / "spectra.jsonl", "", partial(_json_line_before, step, True))
    _write_text(run_dir / "metrics.csv", _csv_text(METRIC_FIELDS, [metric_row(e) for e in metrics]))
    _write_text(run_dir / "metrics.jsonl", "".join(json.dumps(e.to_json()) + "\n" for e in metrics))
    old = read_summary(run_dir)
    checkpoints = [
        entry for entry in _entries(old, "checkpoints") if entry.get("reason") == "epoch"
        and isinstance(entry.get("step"), int) and entry["step"] <= step
    ]  # fmt: skip
    resume = {"from": str(checkpoint), "step": step}
    summary = {
        "started": old.get("started"), "ended": None, "checkpoints": checkpoints,
        "resumes": [*_entries(old, "resumes"), resume],
    }  # fmt: skip
    write_summary(run_dir, summary)
    return summary


def _entries(summary: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The dict entries of the list ``summary[key]`` (nothing when it is not a list)."""
    value = summary.get(key)
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def read_steps(run_dir: Path) -> list[StepLoss]:
    """The mini-batch rows of ``steps.csv`` (as logged, 6 significant digits) as events."""
    steps = []
    with (run_dir / "steps.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                counts = (int(row[f]) for f in STEP_FIELDS[:3])
                steps.append(StepLoss(*counts, *(float(row[f]) for f in STEP_FIELDS[3:])))
            except (TypeError, ValueError):
                continue
    return steps
