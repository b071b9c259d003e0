"""Synthetic training runs: the engine's events in its order, made up without training.

A 784-48-10 MLP, ``STEPS_PER_EPOCH`` steps an epoch; a pruned run factorises ``fc1`` at rank
``RANK`` on the init (step 0) and leaves every layer alone at the later cuts. Spectra come with
a snapshot at step 0, after each cut, every second step and at the end (``final``).
"""

from __future__ import annotations

import numpy as np

from rmt_gui.jobs.config import PruneConfig, TrainConfig
from rmt_gui.jobs.events import (
    CheckpointSaved,
    EpochEnd,
    LayerPruning,
    LayerShape,
    LayerSpectrum,
    LiveSpectra,
    PruneEvent,
    RunEnded,
    RunStarted,
    SpectrumSnapshot,
    StepLoss,
)
from rmt_gui.jobs.training_job import live_spectra
from rmt_gui.spectral import bema_fit, spectrum_of

STEPS_PER_EPOCH = 6
EPOCHS = 3
RANK = 20
DIMS = (784, 48, 10)
CONFIG = TrainConfig(dims=DIMS, epochs=EPOCHS, batch_size=100, seed=2, prune=PruneConfig())
BEFORE = (LayerShape("fc1.weight", (48, 784)), LayerShape("fc2.weight", (10, 48)))
AFTER = (
    LayerShape("fc1.0.weight", (RANK, 784)),
    LayerShape("fc1.1.weight", (48, RANK)),
    LayerShape("fc2.weight", (10, 48)),
)


def params(layers: tuple[LayerShape, ...]) -> int:
    """Weights of ``layers`` plus one bias per output of each original layer."""
    return sum(a * b for a, b in (layer.shape for layer in layers)) + 48 + 10


def spectra(step: int, layers: tuple[LayerShape, ...], final: bool = False) -> LiveSpectra:
    """Reports of random weights of ``layers``' shapes, as the app receives them."""
    rng = np.random.default_rng(step)
    parts = []
    for layer in layers:
        spectrum = spectrum_of(rng.standard_normal(layer.shape) / np.sqrt(layer.shape[1]))
        parts.append(LayerSpectrum(layer.layer, spectrum, bema_fit(spectrum)))
    snapshot = SpectrumSnapshot(step, step / STEPS_PER_EPOCH, tuple(parts), 0.01, final=final)
    return live_spectra(snapshot)


def cut(step: int, factorise: bool) -> PruneEvent:
    """A cut at ``step``: ``fc1`` factorised at :data:`RANK`, or every layer left alone."""
    layers = BEFORE if factorise else AFTER
    records = []
    for layer in layers:
        spectrum = spectrum_of(np.random.default_rng(7).standard_normal(layer.shape))
        change = factorise and layer.layer == "fc1.weight"
        factors = ((RANK, 784), (48, RANK)) if change else None
        names = ("fc1.0.weight", "fc1.1.weight") if change else (layer.layer,)
        size = layer.shape[0] * layer.shape[1]
        after = RANK * (784 + 48) if change else size
        records.append(LayerPruning(
            layer.layer, layer.shape, min(layer.shape), RANK if change else min(layer.shape),
            factors, names, size, after, spectrum, bema_fit(spectrum),
            "" if change else "no noise to cut",
        ))  # fmt: skip
    total = (params(BEFORE), params(AFTER)) if factorise else (params(AFTER), params(AFTER))
    epochs_done = step / STEPS_PER_EPOCH
    return PruneEvent(step, epochs_done, "rmt", 0.45, tuple(records), *total, 0.02)


def run_events(pruned: bool) -> list:
    """Every event of a run that finishes, in the engine's order."""
    config = CONFIG if pruned else TrainConfig(dims=DIMS, epochs=EPOCHS, batch_size=100, seed=2)
    layers = BEFORE
    total = EPOCHS * STEPS_PER_EPOCH
    events: list = [
        RunStarted(config, None, BEFORE, params(BEFORE), 600, 300, STEPS_PER_EPOCH, total),
        spectra(0, BEFORE),
    ]
    for epoch in range(1, EPOCHS + 1):
        first = (epoch - 1) * STEPS_PER_EPOCH
        if pruned:
            events.append(cut(first, factorise=epoch == 1))
            layers = AFTER
            events.append(spectra(first, layers))
        for step in range(first + 1, first + STEPS_PER_EPOCH + 1):
            loss = 2.3 * np.exp(-step / 10)
            batch = (step - 1) % STEPS_PER_EPOCH
            events.append(StepLoss(step, epoch, batch, loss, 0.1 + step / 40, step * 0.05))
            if step % 2 == 0:
                events.append(spectra(step, layers))
        accuracy = 0.5 + 0.1 * epoch
        events.append(EpochEnd(epoch, first + STEPS_PER_EPOCH, 0.5 / epoch, accuracy,
                               0.6 / epoch, accuracy - 0.02, params(layers), 0.3, 0.05,
                               epoch * STEPS_PER_EPOCH * 0.05))  # fmt: skip
        events.append(CheckpointSaved(f"epoch-{epoch}.pt", first + STEPS_PER_EPOCH, epoch, "epoch"))
    events.append(spectra(total, layers, final=True))
    events.append(RunEnded("finished", "final.pt", total, float(EPOCHS), params(layers), layers,
                           0.78, 0.78, total * 0.05))  # fmt: skip
    return events
