"""The live state of a training session in the app (Qt-free): curves, cuts, spectra, progress.

The UI thread hands every batch of events a worker delivers to :meth:`TrainingSession.apply`,
which only records them and notes which parts of the screen changed; the UI draws from a timer
with :meth:`TrainingSession.take_changes`, so the step rate never sets the redraw rate. The parts
are ``curves`` (the loss), ``accuracy`` (the epoch accuracies), ``spectra``, ``progress``,
``status``, ``log`` and ``table``. A session holds the RMT-pruned run and, for the paper's
comparison, the unpruned baseline trained after it with the same seed and data order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from rmt_gui.jobs.events import (
    CheckpointSaved,
    EpochEnd,
    LayerShape,
    LiveSpectra,
    Paused,
    PruneEvent,
    Resumed,
    RunEnded,
    RunStarted,
    StepLoss,
)
from rmt_gui.user_dirs import user_folder

if TYPE_CHECKING:
    from rmt_gui.jobs.analysis_job import LayerReport

SMOOTH_MAX = 50
ENDED = ("finished", "cancelled", "failed")
STATUS_TEXT = {
    "waiting": "loading MNIST and building the network…",
    "pausing": "pausing at the next step…",
    "stopping": "stopping: saving the partial model…",
}


def user_runs_dir() -> Path:
    """Per-user folder for the app's training runs (never inside the repository)."""
    return user_folder("data") / "runs"


def new_run_dir(root: Path, now: float | None = None) -> Path:
    """A fresh ``root/train-YYYYmmdd-HHMMSS`` folder name (suffixed when already taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    candidate, index = root / f"train-{stamp}", 2
    while candidate.exists() or baseline_dir(candidate).exists():
        candidate, index = root / f"train-{stamp}-{index}", index + 1
    return candidate


def baseline_dir(run_dir: Path) -> Path:
    """Where the unpruned baseline of the run in ``run_dir`` goes."""
    return run_dir.with_name(f"{run_dir.name}-baseline")


def duration_text(seconds: float) -> str:
    """``42s``, ``3m05s`` or ``1h02m``."""
    total = int(seconds + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def shapes_text(layers: tuple[LayerShape, ...] | list[LayerShape]) -> str:
    """Layer shapes as ``out×in``, comma separated."""
    return ", ".join(f"{layer.shape[0]}×{layer.shape[1]}" for layer in layers)


def layers_after(layers: list[LayerShape], cut: PruneEvent) -> list[LayerShape]:
    """The network's weights after ``cut``: a factorised layer becomes its two factors."""
    changes = {record.layer: record for record in cut.layers if not record.skipped}
    result: list[LayerShape] = []
    for layer in layers:
        record = changes.get(layer.layer)
        if record is None:
            result.append(layer)
            continue
        pairs = zip(record.new_layers, record.shapes_after, strict=True)
        result.extend(LayerShape(name, shape) for name, shape in pairs)
    return result


class RunState:
    """What one run has reported so far, as the UI thread received it."""

    def __init__(self, label: str, run_dir: Path, baseline: bool = False) -> None:
        self.label, self.run_dir, self.baseline = label, run_dir, baseline
        self.status = "waiting"
        self.error = ""
        self.started: RunStarted | None = None
        self.ended: RunEnded | None = None
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.elapsed = 0.0
        self.epochs: list[EpochEnd] = []
        self.cuts: list[PruneEvent] = []
        self.layers: list[LayerShape] = []
        self.spectra: LiveSpectra | None = None
        self.first_spectra: LiveSpectra | None = None
        self.checkpoints: list[CheckpointSaved] = []

    @property
    def step(self) -> int:
        return self.steps[-1] if self.steps else 0

    @property
    def total_steps(self) -> int:
        return self.started.total_steps if self.started is not None else 0

    @property
    def steps_per_epoch(self) -> int:
        return self.started.steps_per_epoch if self.started is not None else 1

    @property
    def done(self) -> bool:
        """Whether the run is over (finished, stopped or failed)."""
        return self.status in ENDED

    def apply(self, event: Any) -> set[str]:
        """Record one event; returns the parts of the screen it changes."""
        if isinstance(event, StepLoss):
            self.steps.append(event.step)
            self.losses.append(event.loss)
            self.elapsed = event.elapsed
            return {"curves", "progress"}
        if isinstance(event, LiveSpectra):
            self.spectra = event
            if self.first_spectra is None:
                self.first_spectra = event
            return {"spectra"}
        if isinstance(event, EpochEnd):
            self.epochs.append(event)
            self.elapsed = event.elapsed
            return {"accuracy", "progress"}
        if isinstance(event, PruneEvent):
            self.cuts.append(event)
            self.layers = layers_after(self.layers, event)
            return {"curves", "accuracy", "log", "spectra"}
        return self._apply_control(event)

    def _apply_control(self, event: Any) -> set[str]:
        """Start, pause, checkpoints and the end of the run."""
        if isinstance(event, RunStarted):
            self.started, self.status = event, "running"
            self.layers = list(event.layers)
            return {"curves", "accuracy", "spectra", "progress", "status", "log"}
        if isinstance(event, CheckpointSaved):
            self.checkpoints.append(event)
            return {"status"}
        if isinstance(event, Paused) and self.status != "stopping":
            self.status = "paused"
        elif isinstance(event, Resumed) and self.status != "stopping":
            self.status = "running"
        elif isinstance(event, RunEnded):
            self.ended, self.status = event, event.status
            self.layers, self.elapsed = list(event.layers), event.elapsed
            return {"status", "progress", "curves", "accuracy", "spectra", "table", "log"}
        return {"status"}

    def fail(self, message: str) -> None:
        """The worker raised: keep what arrived, remember why it stopped."""
        self.status, self.error = "failed", message

    def eta(self) -> float | None:
        """Seconds left at the rate so far (pauses excluded), or ``None`` before the first step."""
        if not self.steps or self.done:
            return None
        return self.elapsed / self.step * max(self.total_steps - self.step, 0)

    def progress_text(self) -> str:
        """The progress bar's text: steps done and the time left (``paused`` while paused:
        the time left is unknown until the user resumes)."""
        eta = self.eta()
        tail = f" · ETA {duration_text(eta)}" if eta is not None else ""
        if self.status in ("pausing", "paused"):
            tail = " · paused"
        return f"{self.label}: step {self.step:,}/{self.total_steps:,}{tail}"

    def state_text(self) -> str:
        """One line of rich text: the run's state, epoch and time so far."""
        state = STATUS_TEXT.get(self.status, self.status)
        if self.status == "paused":
            state = f"paused at step {self.step:,}"
        if self.error:
            state = f"failed: {self.error}"
        head = f"<b>{self.label}</b>: {state}"
        if self.started is None:
            return head
        epoch = self.step / self.steps_per_epoch
        return (
            f"{head} · epoch {epoch:.2f} of {self.started.config.epochs} · "
            f"{duration_text(self.elapsed)} elapsed{self._saved_text()}"
        )

    def _saved_text(self) -> str:
        """`` · test accuracy 97.12% (final.pt)`` once the run has ended with a tested model:
        the accuracy of the model it saved, a stopped run's included."""
        ended = self.ended
        if ended is None or ended.test_accuracy is None:
            return ""
        saved = Path(ended.model_path).name if ended.model_path else "not saved"
        return f" · test accuracy {100 * ended.test_accuracy:.2f}% ({saved})"

    def describe(self, event: RunStarted | RunEnded) -> str:
        """A log line for the start or the end of the run."""
        if isinstance(event, RunStarted):
            return (
                f"{self.label}: {event.params:,} parameters ({shapes_text(event.layers)}), "
                f"{event.train_size:,} training images, {event.total_steps:,} steps"
            )
        accuracy = f"{100 * event.test_accuracy:.2f}%" if event.test_accuracy is not None else "—"
        return (
            f"{self.label} {event.status} at step {event.step}: test accuracy {accuracy}, "
            f"{event.params:,} parameters, {duration_text(event.elapsed)}; model "
            f"{event.model_path}"
        )

    def loss_curve(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Mini-batch losses against epochs (``step / steps_per_epoch``)."""
        x = np.asarray(self.steps, dtype=float) / self.steps_per_epoch
        return x, np.asarray(self.losses, dtype=float)

    def smoothed_loss(
        self, curve: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The running mean of the loss over the last few steps (up to a fifth of an epoch), of
        ``curve`` when the caller already has :meth:`loss_curve` (a live view builds it once)."""
        x, y = self.loss_curve() if curve is None else curve
        window = max(1, min(SMOOTH_MAX, self.steps_per_epoch // 5))
        sums = np.concatenate([[0.0], np.cumsum(y)])
        end = np.arange(1, y.size + 1)
        start = np.maximum(end - window, 0)
        return x, (sums[end] - sums[start]) / (end - start)

    def accuracy_curves(self) -> tuple[NDArray[np.float64], ...]:
        """Epoch numbers and the train and test accuracy (%) at the end of each epoch."""
        x = np.asarray([e.epoch for e in self.epochs], dtype=float)
        train = np.asarray([100.0 * e.train_accuracy for e in self.epochs], dtype=float)
        test = np.asarray([100.0 * e.test_accuracy for e in self.epochs], dtype=float)
        return x, train, test

    def cut_positions(self) -> NDArray[np.float64]:
        """Where the cuts happened, in epochs."""
        return np.asarray([cut.epochs_done for cut in self.cuts], dtype=float)

    def layer_names(self) -> list[str]:
        """The network's weights now, in model order."""
        return [layer.layer for layer in self.layers]

    def reports(self, first: bool = False) -> dict[str, LayerReport]:
        """The latest (or first) snapshot's reports by layer."""
        spectra = self.first_spectra if first else self.spectra
        return {r.name: r for r in spectra.reports} if spectra is not None else {}

    def origin(self, name: str) -> str:
        """The layer ``name`` came from before the cuts (a factor's original layer)."""
        current = name
        for cut in reversed(self.cuts):
            for record in cut.layers:
                if current in record.new_layers and not record.skipped:
                    current = record.layer
        return current

    def successor(self, name: str | None) -> str | None:
        """``name`` followed through the cuts (a factorised layer's first factor)."""
        names = self.layer_names()
        current = name
        for cut in self.cuts:
            for record in cut.layers:
                if record.layer == current and not record.skipped:
                    current = record.new_layers[0]
        if current in names:
            return current
        return names[0] if names else None


@dataclass(frozen=True)
class ComparisonRow:
    """One row of the final table: how a run ended, its accuracy and size."""

    label: str
    status: str
    epochs_done: float
    test_accuracy: float | None
    best_test_accuracy: float | None
    params: int
    params_fraction: float | None
    shapes: str
    seconds: float
    model_path: str | None


class TrainingSession:
    """The runs of one Start press and the screen parts changed since the last redraw."""

    def __init__(self) -> None:
        self.runs: list[RunState] = []
        self._changes: set[str] = set()

    def add_run(self, label: str, run_dir: Path, baseline: bool = False) -> RunState:
        """Register a run (it starts ``waiting``)."""
        run = RunState(label, run_dir, baseline)
        self.runs.append(run)
        self._changes |= {"status", "table"}
        return run

    @property
    def current(self) -> RunState | None:
        """The first run that is not over (else the last one)."""
        return next((r for r in self.runs if not r.done), self.runs[-1] if self.runs else None)

    def apply(self, run: RunState, events: tuple[Any, ...]) -> set[str]:
        """Record a batch of ``run``'s events."""
        parts: set[str] = set()
        for event in events:
            parts |= run.apply(event)
        self._changes |= parts
        return parts

    def mark(self, *parts: str) -> None:
        """Note parts changed outside :meth:`apply` (a failure, a stop request)."""
        self._changes.update(parts)

    def take_changes(self) -> set[str]:
        """The parts changed since the last call (and forget them)."""
        changes, self._changes = self._changes, set()
        return changes

    def comparison(self) -> list[ComparisonRow]:
        """One row per run that ended with a model; parameters relative to the baseline."""
        base = next((r.ended for r in self.runs if r.baseline and r.ended is not None), None)
        rows = []
        for run in self.runs:
            ended = run.ended
            if ended is None:
                continue
            fraction = ended.params / base.params if base is not None and base.params else None
            row = ComparisonRow(
                run.label, ended.status, ended.epochs_done, ended.test_accuracy,
                ended.best_test_accuracy, ended.params, fraction, shapes_text(ended.layers),
                ended.elapsed, ended.model_path,
            )  # fmt: skip
            rows.append(row)
        return rows
