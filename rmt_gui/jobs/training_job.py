"""Training as a job for the app: the engine's events, batched, with spectra as layer reports.

The app runs :func:`training_process` in a worker process (see ``rmt_gui.jobs.process_worker``):
nothing live crosses to it, only the configuration, a start model as bytes of this project's
format and a checkpoint's path to resume from. Two things keep the UI thread's share small
whatever the step rate: step losses travel in batches (at most one batch every ``interval_s``;
any other event goes at once, with the steps before it), and each spectrum snapshot becomes,
here in the worker, the :class:`LayerReport` records that the explorer's spectrum views draw.
Stopping and pausing go through the engine's own :class:`CancelToken` and :class:`PauseGate`
(over shared-memory flags), so a stopped run still saves ``cancelled.pt`` and ends with
``RunEnded``. A resumed run replays its earlier steps and epochs (from its logs, cut back to the
checkpoint) right after ``RunStarted``, so the curves show the
whole run; its earlier cuts stay in ``pruning.jsonl``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rmt_gui.jobs.analysis_job import LayerReport
from rmt_gui.jobs.config import SnapshotPolicy, TrainConfig
from rmt_gui.jobs.control import CancelToken, PauseGate
from rmt_gui.jobs.events import LiveSpectra, RunStarted, SpectrumSnapshot, StepLoss
from rmt_gui.jobs.resume import ResumePoint, load_point
from rmt_gui.jobs.run_log import read_steps
from rmt_gui.jobs.trainer import TrainData, Trainer
from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.model.native import NativeFormatError, is_native, read_payload, save_native
from rmt_gui.model.surgery import submodule
from rmt_gui.model.tree import WeightTree, linear_dims, tree_from_state_dict
from rmt_gui.spectral import LayerAnalysis, gavish_donoho_rank

BATCH_S = 0.05


def mlp_dims(model: nn.Module) -> tuple[int, ...] | None:
    """Widths of a runnable MLP (``784, ..., 10`` for MNIST), else ``None``: can it be trained?"""
    if not isinstance(model, WeightTree) or not model.chain:
        return None
    found = [linear_dims(submodule(model, path)) for path in model.chain]
    pairs = [pair for pair in found if pair is not None]
    if len(pairs) != len(found):
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


def with_history(events: Iterable[Any], run_dir: Path, resume: ResumePoint | None) -> Iterator[Any]:
    """``events``, with a resumed run's logged steps and finished epochs after ``RunStarted``."""
    for event in events:
        yield event
        if resume is not None and isinstance(event, RunStarted):
            yield from read_steps(run_dir)
            yield from resume.state.metrics


def training_job(
    config: TrainConfig,
    run_dir: Path,
    snapshots: SnapshotPolicy,
    cancel: CancelToken,
    pause: PauseGate,
    model: nn.Module | None = None,
    data: TrainData | None = None,
    interval_s: float = BATCH_S,
    resume: ResumePoint | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Run one training on the calling thread and yield its events in batches.

    ``model`` (an MLP to go on training) is copied by the engine and never changed; ``resume``
    goes on with the run in ``run_dir`` from that checkpoint instead.
    """
    trainer = Trainer(
        config,
        run_dir=run_dir,
        data=data,
        model=model,
        snapshots=snapshots,
        cancel=cancel,
        pause=pause,
        resume=resume,
    )
    events = (
        live_spectra(event) if isinstance(event, SpectrumSnapshot) else event
        for event in with_history(trainer.run(), run_dir, resume)
    )
    yield from batched(events, interval_s)


def model_bytes(model: nn.Module) -> bytes:
    """``model`` in this project's format, as bytes to hand to a worker process."""
    buffer = io.BytesIO()
    save_native(model, buffer)
    return buffer.getvalue()


def model_from_bytes(data: bytes) -> WeightTree:
    """The model :func:`model_bytes` wrote (loaded with ``weights_only``: no code runs)."""
    payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not is_native(payload):
        raise NativeFormatError("the start model is not in rmt-gui's checkpoint format")
    return tree_from_state_dict(read_payload(payload).state_dict)


def training_process(
    cancel: CancelToken,
    pause: PauseGate,
    config: TrainConfig,
    run_dir: str,
    snapshots: SnapshotPolicy,
    model: bytes | None = None,
    resume: str | None = None,
) -> Iterator[tuple[Any, ...]]:
    """:func:`training_job` as a worker process runs it: the start model as :func:`model_bytes`,
    the checkpoint to resume from as its path (it is read again here)."""
    start = model_from_bytes(model) if model is not None else None
    point = load_point(Path(resume)) if resume is not None else None
    yield from training_job(config, Path(run_dir), snapshots, cancel, pause, start, resume=point)
