"""A finished (or stopped) training run read back for replay: its spectra step by step.

``rmt-gui train --out RUN`` writes ``RUN/spectra.jsonl`` (one line per snapshot: every layer's
singular values and BEMA fit, :class:`rmt_gui.jobs.events.SpectrumSnapshot`), ``metrics.jsonl``
(one line per epoch) and ``run.json`` (its checkpoints), see :mod:`rmt_gui.jobs.run_log`. This
reader is Qt-free; WeightWatcher's metrics of a layer at a step are computed on first use.
Eigenvalues follow docs/method.md §1 (``s**2 / n``, ``n = max(out, in)``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rmt_gui.errors import FileError
from rmt_gui.jobs.run_log import read_summary
from rmt_gui.spectral.spectrum import Spectrum
from rmt_gui.spectral.ww_metrics import WWMetrics, ww_metrics
from rmt_gui.state.tab_titles import SPECTRA

METRICS = "metrics.jsonl"
FIT_KEYS = ("n_signal", "sigma2", "lambda_plus", "fit_error")
"""The fit's numbers each layer of a snapshot records."""


@dataclass(frozen=True)
class ReplayLayer:
    """One layer at one recorded step: its spectrum and the BEMA fit the run recorded."""

    name: str
    spectrum: Spectrum
    fit: dict[str, float]
    good_fit: bool

    @cached_property
    def ww(self) -> WWMetrics:
        """WeightWatcher's metrics of this spectrum (computed when first shown)."""
        return ww_metrics(self.spectrum)


@dataclass(frozen=True)
class ReplayStep:
    """One snapshot: the training step, epochs done, and every layer's spectrum."""

    step: int
    epochs_done: float
    final: bool
    layers: tuple[ReplayLayer, ...]

    def layer(self, name: str) -> ReplayLayer | None:
        """Layer ``name`` at this step (``None`` when it did not exist then, e.g. pruned)."""
        return next((layer for layer in self.layers if layer.name == name), None)


@dataclass(frozen=True)
class Run:
    """A run folder's snapshots in step order, its epoch rows and checkpoints."""

    path: Path
    steps: tuple[ReplayStep, ...]
    epochs: tuple[dict[str, Any], ...]
    checkpoints: tuple[dict[str, Any], ...]

    @property
    def layer_names(self) -> list[str]:
        """Every layer any snapshot holds, in first-seen order."""
        return list(dict.fromkeys(layer.name for step in self.steps for layer in step.layers))

    @property
    def step_numbers(self) -> NDArray[np.float64]:
        """The training step of each snapshot."""
        return np.array([step.step for step in self.steps], dtype=np.float64)

    def fit_curve(self, name: str, key: str) -> NDArray[np.float64]:
        """The recorded fit number ``key`` of layer ``name`` at each snapshot (NaN where absent)."""
        layers = (step.layer(name) for step in self.steps)
        return np.array([np.nan if lay is None else lay.fit[key] for lay in layers], np.float64)

    def epoch_curve(self, key: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(steps, values)`` of an epoch metric (``test_accuracy``, ``train_loss``...)."""
        rows = [row for row in self.epochs if isinstance(row.get(key), (int, float))]
        return (
            np.array([row["step"] for row in rows], dtype=np.float64),
            np.array([row[key] for row in rows], dtype=np.float64),
        )

    def index_at(self, step: int) -> int:
        """The snapshot at ``step`` or the last one before it (0 before the first)."""
        return max(int(np.searchsorted(self.step_numbers, step, side="right")) - 1, 0)


def _layer(path: Path, line_no: int, record: dict[str, Any]) -> ReplayLayer:
    """One layer of a snapshot line, checked (one-line error naming the line otherwise)."""
    try:
        shape = (int(record["shape"][0]), int(record["shape"][1]))
        spectrum = Spectrum.from_singular_values(record["singular_values"], shape)
        fit = {key: float(record[key]) for key in FIT_KEYS}
        return ReplayLayer(str(record["layer"]), spectrum, fit, bool(record["good_fit"]))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise FileError(path, f"line {line_no}: not a layer spectrum ({exc})") from exc


def _json_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The JSON objects of a ``.jsonl`` file with their line numbers (blank lines skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileError(path, f"cannot be read ({exc.strerror})") from exc
    records = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FileError(path, f"line {line_no} is not JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise FileError(path, f"line {line_no} is not a JSON object")
        records.append((line_no, record))
    return records


def read_run(path: str | Path) -> Run:
    """Read a run folder for replay; a folder without snapshots is a :class:`FileError`."""
    folder = Path(path)
    spectra = folder / SPECTRA
    if not spectra.is_file():
        raise FileError(folder, f"is not a training run folder: it has no {SPECTRA}")
    steps = []
    for line_no, record in _json_lines(spectra):
        layers = tuple(_layer(spectra, line_no, layer) for layer in record.get("layers", []))
        try:
            step = ReplayStep(int(record["step"]), float(record["epochs_done"]),
                              bool(record.get("final")), layers)  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise FileError(spectra, f"line {line_no}: not a spectrum snapshot ({exc})") from exc
        steps.append(step)
    if not steps:
        raise FileError(spectra, "holds no spectrum snapshot yet")
    metrics = folder / METRICS
    epochs = [record for _, record in _json_lines(metrics)] if metrics.is_file() else []
    checkpoints = read_summary(folder).get("checkpoints") or []
    ordered = sorted(steps, key=lambda s: s.step)
    return Run(folder, tuple(ordered), tuple(epochs), tuple(checkpoints))
