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
step boundary, evaluates the model it stopped with, saves it as ``cancelled.pt`` and ends with
``RunEnded(status="cancelled")`` reporting that model's accuracy; closing the generator (or
killing the process) instead loses the steps since the last checkpoint.

Checkpoints are written atomically, after the logs are flushed and before the epoch's metrics
row, so ``metrics.csv`` never lists an epoch whose checkpoint is not on disk. Each one holds the
run's full state (:mod:`rmt_gui.jobs.resume`); ``Trainer(resume=find_resume_point(RUN_DIR))``
goes on from it and ends with the model the uninterrupted run would have had.

Data: the train and test splits as tensors loaded once; each epoch visits the training set in
an order drawn from a ``torch.Generator`` seeded with the run's seed and used for nothing else,
so a baseline and a pruned run with the same seed see the same batches in the same order.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional

from rmt_gui.errors import CancelledError, FileError, RmtGuiError
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
from rmt_gui.jobs.resume import (
    ResumePoint,
    TrainingState,
    restore_optimizer,
    save_checkpoint,
    set_generator,
)
from rmt_gui.jobs.run_log import FINAL_NAMES, RunLog, checkpoint_path, prepare_run_dir, rewind_logs
from rmt_gui.jobs.snapshots import SpectrumSampler
from rmt_gui.model.data import MnistSplit, load_mnist
from rmt_gui.model.device import resolve_device
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.surgery import detached_copy, get_weight, parameter_count
from rmt_gui.model.threads import set_threads
from rmt_gui.model.tree import WeightTree, build_mlp


class TrainingError(RmtGuiError):
    """Training cannot go on (e.g. the loss became NaN)."""


@dataclass(frozen=True)
class TrainData:
    """The training and test splits, preloaded tensors."""

    train: MnistSplit
    test: MnistSplit


def on_device(data: TrainData, device: torch.device) -> TrainData:
    """``data`` with both splits' tensors on ``device`` (the same tensors when already there)."""
    train, test = (
        MnistSplit(split.images.to(device), split.labels.to(device))
        for split in (data.train, data.test)
    )
    return TrainData(train, test)


def cpu_tensors(value: Any) -> Any:
    """``value`` (tensors in nested dicts, lists and tuples, as an optimiser's state) with every
    tensor on the CPU, so a checkpoint loads on any machine (the same tensors on the CPU)."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {key: cpu_tensors(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(cpu_tensors(item) for item in value)
    return value


def load_data(config: TrainConfig) -> TrainData:
    """MNIST from ``config.data_root`` (no download), cut to ``limit_train``/``limit_test``."""
    train = load_mnist(config.data_root, train=True).head(config.limit_train)
    test = load_mnist(config.data_root, train=False).head(config.limit_test)
    return TrainData(train, test)


def layer_shapes(model: nn.Module) -> tuple[LayerShape, ...]:
    """Key and ``(out, in)`` shape of every linear weight."""
    weights = [(layer, get_weight(model, layer)) for layer in linear_weights(model)]
    return tuple(LayerShape(layer, (w.shape[0], w.shape[1])) for layer, w in weights)


def trainable_copy(model: nn.Module) -> WeightTree:
    """A private copy of an MLP to train (every parameter requires grad); else ConfigError."""
    if not isinstance(model, WeightTree) or not model.chain:
        raise ConfigError("training needs an MLP whose linear layers chain from 784 inputs to 10")
    clone = deepcopy(model)
    for parameter in clone.parameters():
        parameter.requires_grad_(True)
    return clone


def _derived_seed(seed: int) -> int:
    """A second seed for the random-subset variant, so it never shares the data order's stream."""
    return (seed * 1_000_003 + 0x5EED) % (2**63)


class _Clock:
    """Seconds since the start, pauses excluded; ``offset`` seconds were run before (resume)."""

    def __init__(self, offset: float = 0.0) -> None:
        self._start = time.perf_counter() - offset
        self.paused = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self._start - self.paused


class _Run:
    """Mutable progress of one run, owned by the iterating thread.

    ``batch`` counts the batches of ``epoch`` done; ``order_start`` is the data-order generator's
    state before the epoch's shuffle was drawn, so a checkpoint taken mid-epoch draws it again.
    """

    def __init__(
        self, data: TrainData, sampler: SpectrumSampler, per_epoch: int, seed: int
    ) -> None:
        self.data, self.sampler, self.per_epoch = data, sampler, per_epoch
        self.order = torch.Generator().manual_seed(seed)
        self.order_start = self.order.get_state()
        self.clock = _Clock()
        self.step = self.batch = self.correct = 0
        self.epoch = 1
        self.started = self.loss_sum = 0.0
        self.metrics: list[EpochEnd] = []

    @property
    def epochs_done(self) -> float:
        return self.step / self.per_epoch

    @property
    def accuracies(self) -> list[float]:
        return [epoch.test_accuracy for epoch in self.metrics]


class Trainer:
    """One training run. Construct anywhere; iterate :meth:`run` on the thread that owns it.

    ``resume`` (from :func:`~rmt_gui.jobs.resume.find_resume_point`) goes on with the run in
    ``run_dir`` from that checkpoint; ``config`` may then only change threads and the data folder.
    """

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
        resume: ResumePoint | None = None,
    ) -> None:
        self._resume = resume
        chosen = self._resumed_config(resume, config, run_dir, model) if resume else config
        self.config = chosen or TrainConfig()
        self.config.validate()
        self.snapshots = snapshots or SnapshotPolicy()
        self.snapshots.validate()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.overwrite = overwrite
        self.cancel = cancel or CancelToken()
        self.pause = pause or PauseGate(self.cancel)
        self._data = data
        self._device = torch.device("cpu")  # resolved from the config when the run starts
        self._model: nn.Module = self._first_model(model)
        prune = self.config.prune
        self._history = (
            [*resume.history, f"resumed from {resume.path.name} at step {resume.state.step}"]
            if resume
            else [f"rmt-gui train, pruning: {prune.describe() if prune else 'none'}"]
        )
        self._optimizer: torch.optim.Optimizer  # made by _new_optimizer before the first step
        self._log: RunLog | None = None
        self._superseded: Path | None = None

    @staticmethod
    def _resumed_config(
        resume: ResumePoint,
        config: TrainConfig | None,
        run_dir: str | Path | None,
        model: nn.Module | None,
    ) -> TrainConfig:
        """The resume point's config (with ``config``'s threads and data folder, if given)."""
        saved = resume.state.config
        if run_dir is None or model is not None:
            raise ConfigError("resuming needs the run folder and no other starting model")
        if config is None:
            return saved
        if not config.same_run(saved):
            raise ConfigError("a resumed run keeps its settings; only threads and data may change")
        return replace(
            saved, threads=config.threads, data_root=config.data_root, device=config.device
        )

    def _first_model(self, model: nn.Module | None) -> nn.Module:
        """The model training starts from: resumed, a private copy of ``model``, or a new MLP."""
        if self._resume is not None:
            return detached_copy(self._resume.model)
        if model is not None:
            return trainable_copy(model)
        return build_mlp(self.config.dims, self.config.seed)

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
            set_threads(self.config.threads)
        self._device = resolve_device(self.config.device)
        self._model = self._model.to(self._device)
        data = on_device(self._data or load_data(self.config), self._device)
        per_epoch = math.ceil(len(data.train) / self.config.batch_size)
        self._check_resume_fits(per_epoch)
        self._log = self._open_log()
        sampler = SpectrumSampler(self.snapshots, self.config.prune or PruneConfig())
        try:
            for event in self._events(data, sampler, per_epoch):
                if self._log is not None:
                    self._log.record(event)
                yield event
        finally:
            sampler.close()
            if self._log is not None:
                self._log.close()

    def _check_resume_fits(self, per_epoch: int) -> None:
        """Refuse a resume point whose step does not fit this data's steps per epoch."""
        if self._resume is None:
            return
        state = self._resume.state
        if state.batch > per_epoch or state.step != (state.epoch - 1) * per_epoch + state.batch:
            raise FileError(
                self._resume.path,
                f"saved at step {state.step} of epoch {state.epoch}, which does not fit "
                f"{per_epoch} steps per epoch (is the training data the same?)",
            )

    def _open_log(self) -> RunLog | None:
        """A fresh run folder, or the resumed run's logs cut back to its checkpoint."""
        if self.run_dir is None:
            return None
        if self._resume is None:
            return RunLog(prepare_run_dir(self.run_dir, self.overwrite))
        cancelled = self.run_dir / FINAL_NAMES["cancel"]
        self._superseded = cancelled if cancelled.is_file() else None
        state = self._resume.state
        summary = rewind_logs(self.run_dir, state.step, state.metrics, self._resume.path)
        return RunLog(self.run_dir, summary)

    def _new_optimizer(self) -> None:
        """A fresh SGD over the current parameters (after every cut, as the notebook does)."""
        self._optimizer = torch.optim.SGD(
            self._model.parameters(), lr=self.config.lr, momentum=self.config.momentum
        )

    def _restore(self, resume: ResumePoint, run: _Run, subsets: torch.Generator) -> None:
        """Put ``run`` where ``resume`` stopped: position, sums, clock, generators and the
        optimiser (made for the restored model just before)."""
        state, path = resume.state, resume.path
        run.epoch, run.batch, run.step = state.epoch, state.batch, state.step
        run.loss_sum, run.correct, run.metrics = state.loss_sum, state.correct, list(state.metrics)
        run.clock = _Clock(state.elapsed)
        run.started = run.clock.elapsed() - state.epoch_seconds
        set_generator(run.order, state.rng["order"], path)
        set_generator(subsets, state.rng["subsets"], path)
        set_generator(torch.default_generator, state.rng["torch"], path)
        restore_optimizer(self._optimizer, state.optimizer, path)

    def _events(
        self, data: TrainData, sampler: SpectrumSampler, per_epoch: int
    ) -> Iterator[TrainEvent]:
        """The run itself; cancellation ends it with a checkpoint and ``RunEnded``."""
        cfg = self.config
        run = _Run(data, sampler, per_epoch, cfg.seed)
        total = cfg.epochs * run.per_epoch
        cuts = cfg.prune.cut_steps(run.per_epoch, total) if cfg.prune else frozenset()
        subset_seed = cfg.prune.seed if cfg.prune and cfg.prune.seed is not None else cfg.seed
        subsets = torch.Generator().manual_seed(_derived_seed(subset_seed))
        self._new_optimizer()
        if self._resume is not None:
            self._restore(self._resume, run, subsets)
        yield RunStarted(
            cfg, str(self.run_dir) if self.run_dir else None, layer_shapes(self._model),
            parameter_count(self._model), len(data.train), len(data.test), run.per_epoch, total,
        )  # fmt: skip
        if self.snapshots.periodic:
            sampler.request(run.step, run.epochs_done, self._model)
            yield from sampler.collect()
        status: Literal["finished", "cancelled"] = "finished"
        try:
            for epoch in range(run.epoch, cfg.epochs + 1):
                run.epoch = epoch
                yield from self._train_epoch(run, cuts, subsets)
                yield from self._end_epoch(run, subsets)
        except CancelledError:
            status = "cancelled"
        stopped = self._stopped_accuracy(run) if status == "cancelled" else None
        accuracy = stopped
        if accuracy is None and run.accuracies:
            accuracy = run.accuracies[-1]
        if self.snapshots.final:
            sampler.request(run.step, run.epochs_done, self._model, final=True)
        yield from sampler.drain()
        reason: Literal["final", "cancel"] = "final" if status == "finished" else "cancel"
        saved = self._checkpoint(reason, run, subsets, accuracy)
        if saved is not None:
            yield CheckpointSaved(saved, run.step, self._epoch_of(run), reason)
        evaluated = [*run.accuracies, *([] if stopped is None else [stopped])]
        yield RunEnded(
            status, saved, run.step, run.epochs_done, parameter_count(self._model),
            layer_shapes(self._model), accuracy, max(evaluated) if evaluated else None,
            run.clock.elapsed(),
        )  # fmt: skip

    def _stopped_accuracy(self, run: _Run) -> float:
        """Test accuracy of the model a cancelled run stopped with (the one it saves)."""
        accuracy = evaluate(self._model, run.data.test).accuracy
        self._history.append(f"stopped at step {run.step}: test accuracy {100 * accuracy:.2f}%")
        return accuracy

    def _train_epoch(
        self, run: _Run, cuts: frozenset[int], subsets: torch.Generator
    ) -> Iterator[TrainEvent]:
        """The epoch's batches from ``run.batch`` on, in this epoch's order, cutting where
        scheduled."""
        images, labels, batch = run.data.train.images, run.data.train.labels, self.config.batch_size
        run.order_start = run.order.get_state()
        perm = torch.randperm(len(run.data.train), generator=run.order).to(images.device)
        if run.batch == 0:
            run.started, run.loss_sum, run.correct = run.clock.elapsed(), 0.0, 0
        for index in range(run.batch, run.per_epoch):
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
            run.step, run.batch = run.step + 1, index + 1
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
        """Deliver the snapshot computing when the pause came, announce the pause, block until
        resumed (or cancelled), announce the resume."""
        yield from run.sampler.drain()
        yield Paused(run.step)
        before = time.perf_counter()
        self.pause.wait()
        waited = time.perf_counter() - before
        run.clock.paused += waited
        yield Resumed(run.step, waited)

    def _end_epoch(self, run: _Run, subsets: torch.Generator) -> Iterator[TrainEvent]:
        """Evaluate on the test split, save the epoch's checkpoint, then report the epoch."""
        seconds = run.clock.elapsed() - run.started
        result = evaluate(self._model, run.data.test, progress=self.cancel.progress_callback())
        self._history.append(f"epoch {run.epoch}: test accuracy {100 * result.accuracy:.2f}%")
        n = len(run.data.train)
        event = EpochEnd(
            run.epoch, run.step, run.loss_sum / n, run.correct / n, result.loss, result.accuracy,
            parameter_count(self._model), seconds, result.seconds, run.clock.elapsed(),
        )  # fmt: skip
        run.metrics.append(event)
        saved = self._checkpoint("epoch", run, subsets, result.accuracy)
        run.batch = 0
        yield event
        if saved is not None:
            yield CheckpointSaved(saved, run.step, run.epoch, "epoch")

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
        assert prune is not None, "cut steps come from the prune schedule"
        start = time.perf_counter()
        keep = prune.keep_noise.at(min(step // run.per_epoch + 1, epochs), epochs)
        before = parameter_count(self._model)
        model, layers = prune_network(self._model, prune, keep, gen)
        self._model = model.to(self._device)  # the rebuilt layers come back from the CPU
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

    def _epoch_of(self, run: _Run) -> int:
        """The epoch a checkpoint belongs to (the last one when a resumed run had none left)."""
        return min(run.epoch, self.config.epochs)

    def _state(self, reason: str, run: _Run, subsets: torch.Generator) -> TrainingState:
        """What a checkpoint needs to go on: after an epoch, the start of the next one; after a
        stop, the batch it stopped before."""
        ended = reason == "epoch"
        rng = {
            "torch": torch.get_rng_state(),
            "order": run.order.get_state() if ended else run.order_start,
            "subsets": subsets.get_state(),
        }
        return TrainingState(
            config=self.config,
            epoch=run.epoch + 1 if ended else run.epoch,
            batch=0 if ended else run.batch,
            step=run.step,
            optimizer=cpu_tensors(self._optimizer.state_dict()),
            rng=rng,
            loss_sum=0.0 if ended else run.loss_sum,
            correct=0 if ended else run.correct,
            epoch_seconds=0.0 if ended else run.clock.elapsed() - run.started,
            elapsed=run.clock.elapsed(),
            metrics=tuple(run.metrics),
        )

    def _checkpoint(
        self,
        reason: Literal["epoch", "final", "cancel"],
        run: _Run,
        subsets: torch.Generator,
        accuracy: float | None,
    ) -> str | None:
        """Flush the logs, then write a checkpoint atomically (with the training state, except
        the final one); ``None`` without a run folder."""
        if self.run_dir is None:
            return None
        if self._log is not None:
            self._log.flush()
        epoch = self._epoch_of(run)
        path = checkpoint_path(self.run_dir, reason, epoch)
        metadata = {
            "source": "rmt-gui train",
            "config": self.config.to_json(),
            "step": run.step,
            "epoch": epoch,
            "status": {"epoch": "training", "final": "finished", "cancel": "cancelled"}[reason],
            "test_accuracy": accuracy,
        }
        state = None if reason == "final" else self._state(reason, run, subsets)
        saved = self._model if self._device.type == "cpu" else detached_copy(self._model).cpu()
        save_checkpoint(path, saved, list(self._history), metadata, state)
        if self._superseded is not None and self._superseded != path:
            self._superseded.unlink(missing_ok=True)
            self._superseded = None
        return str(path)
