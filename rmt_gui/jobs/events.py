"""Immutable messages a training run yields: safe to hand to another thread as they are.

Every event carries plain numbers, strings, tuples, frozen results (:class:`BemaResult`) and
read-only numpy arrays (inside :class:`Spectrum`), never a live tensor or module. ``step`` is the
number of optimiser steps done when the event was made; ``epochs_done = step / steps_per_epoch``
places boundary events on an epoch axis. ``to_json()`` gives the record the run logs store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from rmt_gui.jobs.config import TrainConfig
from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.spectrum import Spectrum

if TYPE_CHECKING:
    from rmt_gui.jobs.analysis_job import LayerReport

Shape = tuple[int, int]


@dataclass(frozen=True)
class LayerShape:
    """One linear weight of the network: its key and ``(out, in)`` shape."""

    layer: str
    shape: Shape

    def to_json(self) -> dict[str, Any]:
        return {"layer": self.layer, "shape": list(self.shape)}


@dataclass(frozen=True)
class RunStarted:
    """First event: the configuration, the network and the size of the run."""

    config: TrainConfig
    run_dir: str | None
    layers: tuple[LayerShape, ...]
    params: int
    train_size: int
    test_size: int
    steps_per_epoch: int
    total_steps: int

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "started",
            "config": self.config.to_json(),
            "run_dir": self.run_dir,
            "layers": [layer.to_json() for layer in self.layers],
            "params": self.params,
            "train_size": self.train_size,
            "test_size": self.test_size,
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
        }


@dataclass(frozen=True)
class StepLoss:
    """One optimiser step: its mini-batch loss and accuracy; ``elapsed`` excludes pauses."""

    step: int
    epoch: int
    batch: int
    loss: float
    accuracy: float
    elapsed: float


@dataclass(frozen=True)
class EpochEnd:
    """An epoch finished: running train metrics over its steps and the test-set evaluation."""

    epoch: int
    step: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    params: int
    seconds: float
    eval_seconds: float
    elapsed: float

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "epoch",
            "epoch": self.epoch,
            "step": self.step,
            "train_loss": self.train_loss,
            "train_accuracy": self.train_accuracy,
            "test_loss": self.test_loss,
            "test_accuracy": self.test_accuracy,
            "params": self.params,
            "seconds": self.seconds,
            "eval_seconds": self.eval_seconds,
            "elapsed": self.elapsed,
        }


@dataclass(frozen=True)
class LayerPruning:
    """What one cut did to one layer, with the BEMA fit of the spectrum it was decided on.

    ``spectrum`` holds the singular values before the cut. ``skipped`` is empty when the layer
    was changed, else the reason it was left alone. ``new_layers`` are the weight keys after the
    cut (two for a layer just factorised, ``fc1.0.weight`` and ``fc1.1.weight``).
    """

    layer: str
    shape: Shape
    rank_before: int
    rank_after: int
    factor_shapes: tuple[Shape, Shape] | None
    new_layers: tuple[str, ...]
    params_before: int
    params_after: int
    spectrum: Spectrum
    fit: BemaResult
    skipped: str = ""

    @property
    def n_signal(self) -> int:
        return self.fit.n_signal

    @property
    def sigma2(self) -> float:
        return self.fit.sigma2

    @property
    def lambda_plus(self) -> float:
        return self.fit.lambda_plus

    @property
    def fit_error(self) -> float:
        return self.fit.fit_error

    @property
    def good_fit(self) -> bool:
        return self.fit.good_fit

    @property
    def factorized(self) -> bool:
        return self.factor_shapes is not None

    @property
    def shapes_after(self) -> tuple[Shape, ...]:
        """Weight shapes after the cut: the factor pair, or the unchanged shape."""
        return self.factor_shapes if self.factor_shapes is not None else (self.shape,)

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "shape": list(self.shape),
            "shapes_after": [list(s) for s in self.shapes_after],
            "new_layers": list(self.new_layers),
            "rank_before": self.rank_before,
            "rank_after": self.rank_after,
            "factorized": self.factorized,
            "params_before": self.params_before,
            "params_after": self.params_after,
            "n_signal": self.n_signal,
            "sigma2": self.sigma2,
            "lambda_plus": self.lambda_plus,
            "sv_threshold": self.fit.sv_threshold,
            "fit_error": self.fit_error,
            "good_fit": self.good_fit,
            "note": self.fit.note,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class PruneEvent:
    """One cut over every linear layer, followed by a fresh optimiser."""

    step: int
    epochs_done: float
    variant: str
    keep_noise: float
    layers: tuple[LayerPruning, ...]
    params_before: int
    params_after: int
    seconds: float

    @property
    def changed(self) -> tuple[LayerPruning, ...]:
        """The layers the cut changed."""
        return tuple(layer for layer in self.layers if not layer.skipped)

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "prune",
            "step": self.step,
            "epochs_done": self.epochs_done,
            "variant": self.variant,
            "keep_noise": self.keep_noise,
            "params_before": self.params_before,
            "params_after": self.params_after,
            "seconds": self.seconds,
            "layers": [layer.to_json() for layer in self.layers],
        }


@dataclass(frozen=True)
class LayerSpectrum:
    """One layer's singular values (read-only float64, descending) and their BEMA fit."""

    layer: str
    spectrum: Spectrum
    fit: BemaResult

    @property
    def singular_values(self) -> np.ndarray:
        return self.spectrum.singular_values

    @property
    def shape(self) -> Shape:
        return self.spectrum.shape

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "shape": list(self.shape),
            "n_signal": self.fit.n_signal,
            "sigma2": self.fit.sigma2,
            "lambda_plus": self.fit.lambda_plus,
            "sv_threshold": self.fit.sv_threshold,
            "fit_error": self.fit.fit_error,
            "good_fit": self.fit.good_fit,
            "singular_values": [float(f"{v:.7g}") for v in self.singular_values],
        }


@dataclass(frozen=True)
class SpectrumSnapshot:
    """Spectra of every linear layer at one step; ``final`` marks the last one of a run."""

    step: int
    epochs_done: float
    layers: tuple[LayerSpectrum, ...]
    seconds: float
    final: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "spectra",
            "step": self.step,
            "epochs_done": self.epochs_done,
            "final": self.final,
            "seconds": self.seconds,
            "layers": [layer.to_json() for layer in self.layers],
        }


@dataclass(frozen=True)
class LiveSpectra:
    """A :class:`SpectrumSnapshot` as the app draws it: one explorer layer report per layer.

    Made by ``rmt_gui.jobs.training_job`` on the worker thread, never by the engine itself.
    """

    step: int
    epochs_done: float
    final: bool
    reports: tuple[LayerReport, ...]


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint in this project's format was written (atomically)."""

    path: str
    step: int
    epoch: int
    reason: Literal["epoch", "final", "cancel"]


@dataclass(frozen=True)
class Paused:
    """The run is about to block at a step boundary until resumed (or cancelled)."""

    step: int


@dataclass(frozen=True)
class Resumed:
    """The run continues after a pause of ``paused_seconds``."""

    step: int
    paused_seconds: float


@dataclass(frozen=True)
class RunEnded:
    """Last event: how the run ended and where the model is (``None`` without a run folder)."""

    status: Literal["finished", "cancelled"]
    model_path: str | None
    step: int
    epochs_done: float
    params: int
    layers: tuple[LayerShape, ...]
    test_accuracy: float | None
    best_test_accuracy: float | None
    elapsed: float

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "ended",
            "status": self.status,
            "model_path": self.model_path,
            "step": self.step,
            "epochs_done": self.epochs_done,
            "params": self.params,
            "layers": [layer.to_json() for layer in self.layers],
            "test_accuracy": self.test_accuracy,
            "best_test_accuracy": self.best_test_accuracy,
            "elapsed": self.elapsed,
        }


TrainEvent = (
    RunStarted
    | StepLoss
    | EpochEnd
    | PruneEvent
    | SpectrumSnapshot
    | CheckpointSaved
    | Paused
    | Resumed
    | RunEnded
)
