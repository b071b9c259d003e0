"""Training as a job for the app: the engine's events, batched, with spectra as layer reports.

The app runs :func:`training_job` in a worker thread (see ``rmt_gui.ui.workers``). Two things
keep the UI thread's share small whatever the step rate: step losses travel in batches (at most
one batch every ``interval_s``; any other event goes at once, with the steps before it), and each
spectrum snapshot becomes, here and off the UI thread, the :class:`LayerReport` records that the
explorer's spectrum views draw. Stopping and pausing go through the engine's own
:class:`CancelToken` and :class:`PauseGate`, set from the UI thread, so a stopped run still saves
``cancelled.pt`` and ends with ``RunEnded``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from torch import nn

from rmt_gui.jobs.analysis_job import LayerReport
from rmt_gui.jobs.config import SnapshotPolicy, TrainConfig
from rmt_gui.jobs.control import CancelToken, PauseGate
from rmt_gui.jobs.events import LiveSpectra, SpectrumSnapshot, StepLoss
from rmt_gui.jobs.trainer import TrainData, Trainer
from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.model.surgery import submodule
from rmt_gui.model.tree import WeightTree, linear_dims
from rmt_gui.spectral import LayerAnalysis, gavish_donoho_rank

BATCH_S = 0.05


def mlp_dims(model: nn.Module) -> tuple[int, ...] | None:
    """Widths of a runnable MLP (``784, ..., 10`` for MNIST), else ``None``: can it be trained?"""
    if not isinstance(model, WeightTree) or not model.chain:
        return None
    pairs = [linear_dims(submodule(model, path)) for path in model.chain]
    if any(pair is None for pair in pairs):
        return None
    return (pairs[0][0], *(pair[1] for pair in pairs))


def live_spectra(snapshot: SpectrumSnapshot) -> LiveSpectra:
    """The reports the spectrum views draw, from a snapshot's spectra and BEMA fits.

    ``params`` of each layer counts its weights only (a snapshot does not see the biases).
    """
    reports = []
    for layer in snapshot.layers:
        spectrum = layer.spectrum
        weights = spectrum.shape[0] * spectrum.shape[1]
        info = LayerInfo(layer.layer, spectrum.shape, weights, "float32")
        analysis = LayerAnalysis(
            layer.layer, spectrum, layer.fit, gavish_donoho_rank(spectrum), weights
        )
        reports.append(LayerReport.analysed(info, analysis, True))
    return LiveSpectra(snapshot.step, snapshot.epochs_done, snapshot.final, tuple(reports))


def batched(
    events: Iterable[Any],
    interval_s: float = BATCH_S,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[tuple[Any, ...]]:
    """Group consecutive :class:`StepLoss` events; anything else flushes the group at once.

    A group is also flushed once ``interval_s`` has passed since the last one, and before an
    exception from ``events`` is passed on, so no step that happened is lost.
    """
    batch: list[Any] = []
    last = clock()
    try:
        for event in events:
            batch.append(event)
            now = clock()
            if not isinstance(event, StepLoss) or now - last >= interval_s:
                yield tuple(batch)
                batch, last = [], now
    except Exception:
        if batch:
            yield tuple(batch)
        raise
    if batch:
        yield tuple(batch)


def training_job(
    config: TrainConfig,
    run_dir: Path,
    snapshots: SnapshotPolicy,
    cancel: CancelToken,
    pause: PauseGate,
    model: nn.Module | None = None,
    data: TrainData | None = None,
    interval_s: float = BATCH_S,
) -> Iterator[tuple[Any, ...]]:
    """Run one training on the calling thread and yield its events in batches.

    ``model`` (an MLP to go on training) is copied by the engine and never changed.
    """
    trainer = Trainer(
        config,
        run_dir=run_dir,
        data=data,
        model=model,
        snapshots=snapshots,
        cancel=cancel,
        pause=pause,
    )
    events = (
        live_spectra(event) if isinstance(event, SpectrumSnapshot) else event
        for event in trainer.run()
    )
    yield from batched(events, interval_s)
