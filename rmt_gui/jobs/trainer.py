"""The training engine: MNIST MLPs with periodic RMT pruning, as a generator of events.

``Trainer(config, ...).run()`` yields immutable events (:mod:`rmt_gui.jobs.events`) in this
order: ``RunStarted``; then per step ``StepLoss`` (preceded, at a cut boundary, by a
``PruneEvent``), with ``SpectrumSnapshot`` events when the consumer asked for them (one at
step 0 and one after every cut too); per epoch ``EpochEnd`` and ``CheckpointSaved``; at the end
a final ``SpectrumSnapshot``, the final ``CheckpointSaved`` and ``RunEnded``.
``Paused``/``Resumed`` bracket a pause. Errors (bad data, a diverging loss) are raised.

The thread that iterates ``run()`` owns the model. Between two events (a yield point) it may
read :attr:`Trainer.model` or take :meth:`Trainer.copy_model` to hand to another thread; other
threads only touch the :class:`CancelToken` and :class:`PauseGate`. Cancelling stops at the next
step boundary, saves ``cancelled.pt`` and ends with ``RunEnded(status="cancelled")``; closing
the generator instead loses the steps since the last checkpoint.

Data: the train and test splits as tensors loaded once; each epoch visits the training set in
an order drawn from a ``torch.Generator`` seeded with the run's seed and used for nothing else,
so a baseline and a pruned run with the same seed see the same batches in the same order.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

from rmt_gui.errors import CancelledError, RmtGuiError
from rmt_gui.jobs.config import ConfigError, PruneConfig, SnapshotPolicy, TrainConfig
from rmt_gui.jobs.control import CancelToken, PauseGate
from rmt_gui.jobs.cutting import linear_weights, prune_network
from rmt_gui.jobs.events import (
    CheckpointSaved,
    EpochEnd,
    LayerShape,
    Paused,
    PruneEvent,
    Resumed,
    RunEnded,
    RunStarted,
    StepLoss,
    TrainEvent,
)
from rmt_gui.jobs.run_log import RunLog, checkpoint_path, prepare_run_dir
from rmt_gui.jobs.snapshots import SpectrumSampler
from rmt_gui.model.data import MnistSplit, load_mnist
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.export import export_model
from rmt_gui.model.surgery import detached_copy, get_weight, parameter_count
from rmt_gui.model.tree import WeightTree, build_mlp


class TrainingError(RmtGuiError):
    """Training cannot go on (e.g. the loss became NaN)."""


@dataclass(frozen=True)
class TrainData:
    """The training and test splits, preloaded tensors."""

    train: MnistSplit
    test: MnistSplit


def load_data(config: TrainConfig) -> TrainData:
    """MNIST from ``config.data_root`` (no download), cut to ``limit_train``/``limit_test``."""
    train = load_mnist(config.data_root, train=True).head(config.limit_train)
    test = load_mnist(config.data_root, train=False).head(config.limit_test)
    return TrainData(train, test)


def layer_shapes(model: nn.Module) -> tuple[LayerShape, ...]:
    """Key and ``(out, in)`` shape of every linear weight."""
    return tuple(
        LayerShape(layer, tuple(get_weight(model, layer).shape)) for layer in linear_weights(model)
    )


def trainable_copy(model: nn.Module) -> WeightTree:
    """A private copy of an MLP to train (every parameter requires grad); else ConfigError."""
    if not isinstance(model, WeightTree) or not model.chain:
        raise ConfigError("training needs an MLP whose linear layers chain from 784 inputs to 10")
    copy = detached_copy(model)
    for parameter in copy.parameters():
        parameter.requires_grad_(True)
    return copy


def _derived_seed(seed: int) -> int:
    """A second seed for the random-subset variant, so it never shares the data order's stream."""
    return (seed * 1_000_003 + 0x5EED) % (2**63)


class _Clock:
    """Seconds since the start, pauses excluded."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self.paused = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self._start - self.paused


class _Run:
    """Mutable progress of one run, owned by the iterating thread."""

    def __init__(
        self, data: TrainData, sampler: SpectrumSampler, per_epoch: int, seed: int
    ) -> None:
        self.data, self.sampler, self.per_epoch = data, sampler, per_epoch
        self.order = torch.Generator().manual_seed(seed)
        self.clock = _Clock()
        self.step = self.epoch = self.correct = 0
        self.started = self.loss_sum = 0.0
        self.accuracies: list[float] = []

    @property
    def epochs_done(self) -> float:
        return self.step / self.per_epoch


class Trainer:
    """One training run. Construct anywhere; iterate :meth:`run` on the thread that owns it."""

    def __init__(
        self,
        config: TrainConfig | None = None,
        *,
        run_dir: str | Path | None = None,
        overwrite: bool = False,
        data: TrainData | None = None,
        model: nn.Module | None = None,
        snapshots: SnapshotPolicy | None = None,
        cancel: CancelToken | None = None,
        pause: PauseGate | None = None,
    ) -> None:
        self.config = config or TrainConfig()
        self.config.validate()
        self.snapshots = snapshots or SnapshotPolicy()
        self.snapshots.validate()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.overwrite = overwrite
        self.cancel = cancel or CancelToken()
        self.pause = pause or PauseGate(self.cancel)
        self._data = data
        self._model: nn.Module = (
            trainable_copy(model)
            if model is not None
            else build_mlp(self.config.dims, self.config.seed)
        )
        prune = self.config.prune
        self._history = [f"rmt-gui train, pruning: {prune.describe() if prune else 'none'}"]
        self._optimizer: torch.optim.Optimizer | None = None

    @property
    def model(self) -> nn.Module:
        """The live model: read it only on the iterating thread, between events."""
        return self._model

    def copy_model(self) -> nn.Module:
        """A copy of the model at this yield point, safe to hand to another thread."""
        return detached_copy(self._model)

    def run(self) -> Iterator[TrainEvent]:
        """Train, yielding events; files go to ``run_dir`` when one was given."""
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        data = self._data or load_data(self.config)
        log = RunLog(prepare_run_dir(self.run_dir, self.overwrite)) if self.run_dir else None
        sampler = SpectrumSampler(self.snapshots, self.config.prune or PruneConfig())
        try:
            for event in self._events(data, sampler):
                if log is not None:
                    log.record(event)
                yield event
        finally:
            sampler.close()
            if log is not None:
                log.close()

    def _new_optimizer(self) -> None:
        """A fresh SGD over the current parameters (after every cut, as the notebook does)."""
        self._optimizer = torch.optim.SGD(
            self._model.parameters(), lr=self.config.lr, momentum=self.config.momentum
        )

    def _events(self, data: TrainData, sampler: SpectrumSampler) -> Iterator[TrainEvent]:
        """The run itself; cancellation ends it with a checkpoint and ``RunEnded``."""
        cfg = self.config
        run = _Run(data, sampler, math.ceil(len(data.train) / cfg.batch_size), cfg.seed)
        total = cfg.epochs * run.per_epoch
        cuts = cfg.prune.cut_steps(run.per_epoch, total) if cfg.prune else frozenset()
        subset_seed = cfg.prune.seed if cfg.prune and cfg.prune.seed is not None else cfg.seed
        subsets = torch.Generator().manual_seed(_derived_seed(subset_seed))
        self._new_optimizer()
        yield RunStarted(
            cfg, str(self.run_dir) if self.run_dir else None, layer_shapes(self._model),
            parameter_count(self._model), len(data.train), len(data.test), run.per_epoch, total,
        )  # fmt: skip
        if self.snapshots.periodic:
            sampler.request(0, 0.0, self._model)
            yield from sampler.collect()
        status = "finished"
        try:
            for run.epoch in range(1, cfg.epochs + 1):
                yield from self._train_epoch(run, cuts, subsets)
                yield from self._end_epoch(run)
        except CancelledError:
            status = "cancelled"
        if self.snapshots.final:
            sampler.request(run.step, run.epochs_done, self._model, final=True)
        yield from sampler.drain()
        reason = "final" if status == "finished" else "cancel"
        saved = yield from self._save(reason, run)
        yield RunEnded(
            status, saved, run.step, run.epochs_done, parameter_count(self._model),
            layer_shapes(self._model), run.accuracies[-1] if run.accuracies else None,
            max(run.accuracies) if run.accuracies else None, run.clock.elapsed(),
        )  # fmt: skip

    def _train_epoch(
        self, run: _Run, cuts: frozenset[int], subsets: torch.Generator
    ) -> Iterator[TrainEvent]:
        """One pass over the training set in this epoch's order, cutting where scheduled."""
        images, labels, batch = run.data.train.images, run.data.train.labels, self.config.batch_size
        perm = torch.randperm(len(run.data.train), generator=run.order)
        run.started, run.loss_sum, run.correct = run.clock.elapsed(), 0.0, 0
        for index in range(run.per_epoch):
            if self.pause.paused:
                yield from self._wait_paused(run)
            self.cancel.check()
            if run.step in cuts:
                yield self._cut(run, subsets)
                if self.snapshots.periodic:
                    run.sampler.request(run.step, run.epochs_done, self._model)
                    yield from run.sampler.collect()
            rows = perm[index * batch : (index + 1) * batch]
            loss, hits = self._step(images[rows], labels[rows])
            run.step += 1
            if not math.isfinite(loss):
                raise TrainingError(
                    f"the loss became {loss} at step {run.step} (epoch {run.epoch}); "
                    "try a lower learning rate"
                )
            run.loss_sum += loss * rows.numel()
            run.correct += hits
            yield StepLoss(
                run.step, run.epoch, index + 1, loss, hits / rows.numel(), run.clock.elapsed()
            )
            if run.sampler.due(run.step):
                run.sampler.request(run.step, run.epochs_done, self._model)
            yield from run.sampler.collect()

    def _wait_paused(self, run: _Run) -> Iterator[TrainEvent]:
        """Announce the pause, block until resumed (or cancelled), announce the resume."""
        yield Paused(run.step)
        before = time.perf_counter()
        self.pause.wait()
        waited = time.perf_counter() - before
        run.clock.paused += waited
        yield Resumed(run.step, waited)

    def _end_epoch(self, run: _Run) -> Iterator[TrainEvent]:
        """Evaluate on the test split, report the epoch and save its checkpoint."""
        seconds = run.clock.elapsed() - run.started
        result = evaluate(self._model, run.data.test, progress=self.cancel.progress_callback())
        run.accuracies.append(result.accuracy)
        self._history.append(f"epoch {run.epoch}: test accuracy {100 * result.accuracy:.2f}%")
        n = len(run.data.train)
        yield EpochEnd(
            run.epoch, run.step, run.loss_sum / n, run.correct / n, result.loss, result.accuracy,
            parameter_count(self._model), seconds, result.seconds, run.clock.elapsed(),
        )  # fmt: skip
        yield from self._save("epoch", run)

    def _step(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, int]:
        """One SGD step on a mini-batch: ``(loss, correct predictions)``."""
        self._optimizer.zero_grad(set_to_none=True)
        logp = self._model(images)
        loss = functional.nll_loss(logp, labels)
        loss.backward()
        self._optimizer.step()
        return float(loss.detach()), int((logp.detach().argmax(dim=1) == labels).sum())

    def _cut(self, run: _Run, gen: torch.Generator) -> PruneEvent:
        """Prune every layer once, then start a fresh optimiser."""
        prune, step, epochs = self.config.prune, run.step, self.config.epochs
        start = time.perf_counter()
        keep = prune.keep_noise.at(min(step // run.per_epoch + 1, epochs), epochs)
        before = parameter_count(self._model)
        self._model, layers = prune_network(self._model, prune, keep, gen)
        self._new_optimizer()
        event = PruneEvent(
            step, run.epochs_done, prune.variant, keep, layers, before,
            parameter_count(self._model), time.perf_counter() - start,
        )  # fmt: skip
        changed = ", ".join(
            f"{r.layer} {r.rank_before}->{r.rank_after}" + (" (factorised)" if r.factorized else "")
            for r in event.changed
        )
        self._history.append(
            f"cut at step {step} ({prune.variant}, f={keep:g}): {changed or 'none'}"
        )
        return event

    def _save(self, reason: str, run: _Run) -> Iterator[TrainEvent]:
        """Write a checkpoint (when there is a run folder); returns its path."""
        if self.run_dir is None:
            return None
        path = checkpoint_path(self.run_dir, reason, run.epoch)
        metadata = {
            "source": "rmt-gui train",
            "config": self.config.to_json(),
            "step": run.step,
            "epoch": run.epoch,
            "status": {"epoch": "training", "final": "finished", "cancel": "cancelled"}[reason],
            "test_accuracy": run.accuracies[-1] if run.accuracies else None,
        }
        export_model(self._model, path, force=True, history=list(self._history), metadata=metadata)
        yield CheckpointSaved(str(path), run.step, run.epoch, reason)
        return str(path)
