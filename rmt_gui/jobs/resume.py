"""What a training checkpoint holds to go on exactly, and finding the one to resume a run from.

Each epoch checkpoint and ``cancelled.pt`` is this project's model format (the weights and the
current, possibly factorised, architecture) with one more key, ``"training"``, made only of plain
types and tensors, so the file still loads with ``weights_only=True``::

    {"version": 1,
     "config": {...},                          # TrainConfig.to_json()
     "epoch": E, "batch": B, "step": S,        # go on after batch B of epoch E (E <= epochs + 1)
     "optimizer": {...},                       # state_dict() of the SGD in use at that step
     "rng": {"torch": t, "order": t, "subsets": t},   # uint8 generator states: torch's global
                                               # one, the data order's at the start of epoch E,
                                               # the random-subset variant's
     "epoch_sums": {"loss": x, "correct": n, "seconds": x},   # epoch E's running train metrics
     "elapsed": x,                             # training seconds so far (pauses excluded)
     "metrics": [{...}, ...]}                  # EpochEnd.to_json() of every finished epoch

A fresh optimiser starts after every cut, so the saved one is the optimiser of the last cut with
its momentum. NumPy's generator is never used by training, so there is nothing of it to keep.
:func:`find_resume_point` picks the newest readable checkpoint of a run folder; a corrupt one is
skipped for the one before it, and the point's ``notes`` say so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rmt_gui.errors import FileError, RmtGuiError, one_line
from rmt_gui.jobs.config import TrainConfig
from rmt_gui.jobs.events import EpochEnd
from rmt_gui.jobs.run_log import CHECKPOINTS, FINAL_NAMES, read_summary
from rmt_gui.model.atomic_file import atomic_write
from rmt_gui.model.native import is_native, native_payload
from rmt_gui.model.tree import WeightTree, tree_from_state_dict

STATE_KEY = "training"
STATE_VERSION = 1
GENERATORS = ("torch", "order", "subsets")
EPOCH_FILE = re.compile(r"epoch-(\d{1,9})\.pt")
INT_METRICS = ("epoch", "step", "params")


@dataclass(frozen=True)
class TrainingState:
    """Everything besides the weights that a run needs to go on exactly where it stopped."""

    config: TrainConfig
    epoch: int
    batch: int
    step: int
    optimizer: dict[str, Any]
    rng: dict[str, torch.Tensor]
    loss_sum: float
    correct: int
    epoch_seconds: float
    elapsed: float
    metrics: tuple[EpochEnd, ...]

    def to_record(self) -> dict[str, Any]:
        """The checkpoint's ``"training"`` entry (plain types and tensors only)."""
        return {
            "version": STATE_VERSION,
            "config": self.config.to_json(),
            "epoch": self.epoch,
            "batch": self.batch,
            "step": self.step,
            "optimizer": self.optimizer,
            "rng": dict(self.rng),
            "epoch_sums": {
                "loss": self.loss_sum,
                "correct": self.correct,
                "seconds": self.epoch_seconds,
            },
            "elapsed": self.elapsed,
            "metrics": [event.to_json() for event in self.metrics],
        }

    @classmethod
    def from_record(cls, record: object, path: Path) -> TrainingState:
        """Read and check a ``"training"`` entry; anything malformed is a :class:`FileError`."""
        if not isinstance(record, dict):
            raise FileError(path, "the training state is not a dictionary")
        if record.get("version") != STATE_VERSION:
            raise FileError(path, f"training state version {record.get('version')!r} is unknown")
        try:
            config = TrainConfig.from_json(record.get("config"))
        except RmtGuiError as exc:
            raise FileError(path, f"unreadable training settings ({exc})") from exc
        sums = _field(record, "epoch_sums", dict, path)
        state = cls(
            config=config,
            epoch=_count(record, "epoch", path),
            batch=_count(record, "batch", path),
            step=_count(record, "step", path),
            optimizer=_field(record, "optimizer", dict, path),
            rng=_generators(_field(record, "rng", dict, path), path),
            loss_sum=_number(sums, "loss", path),
            correct=_count(sums, "correct", path),
            epoch_seconds=_number(sums, "seconds", path),
            elapsed=_number(record, "elapsed", path),
            metrics=tuple(_metric(row, path) for row in _field(record, "metrics", list, path)),
        )
        if not 1 <= state.epoch <= config.epochs + 1 or len(state.metrics) != state.epoch - 1:
            raise FileError(path, f"the training state's epoch {state.epoch} does not fit the run")
        return state


@dataclass(frozen=True)
class ResumePoint:
    """A checkpoint to go on from: its model, history and training state, and what was skipped."""

    path: Path
    model: WeightTree
    history: tuple[str, ...]
    state: TrainingState
    notes: tuple[str, ...] = ()


def _field(record: Mapping[str, Any], key: str, kind: type, path: Path) -> Any:
    """``record[key]`` if it is a ``kind``, else a :class:`FileError` naming the key."""
    value = record.get(key)
    if not isinstance(value, kind):
        raise FileError(path, f"the training state's {key!r} is missing or malformed")
    return value


def _count(record: Mapping[str, Any], key: str, path: Path) -> int:
    """A non-negative integer entry (never a boolean)."""
    value = _field(record, key, int, path)
    if isinstance(value, bool) or value < 0:
        raise FileError(path, f"the training state's {key!r} must be a count, got {value!r}")
    return value


def _number(record: Mapping[str, Any], key: str, path: Path) -> float:
    """A finite number entry, as a float."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FileError(path, f"the training state's {key!r} must be a finite number")
    return float(value)


def _metric(row: object, path: Path) -> EpochEnd:
    """One finished epoch's metrics row (a loss may be infinite: it is what was measured)."""
    if not isinstance(row, dict):
        raise FileError(path, "a metrics row of the training state is not a dictionary")
    values: dict[str, Any] = {}
    for f in fields(EpochEnd):
        value = _count(row, f.name, path) if f.name in INT_METRICS else row.get(f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FileError(path, f"the training state's metric {f.name!r} is not a number")
        values[f.name] = value if f.name in INT_METRICS else float(value)
    return EpochEnd(**values)


def _generators(states: dict[Any, Any], path: Path) -> dict[str, torch.Tensor]:
    """The three generator states, each a uint8 tensor of the CPU generator's size."""
    size = torch.Generator().get_state().shape
    result = {}
    for name in GENERATORS:
        state = states.get(name)
        if not isinstance(state, torch.Tensor) or state.dtype != torch.uint8 or state.shape != size:
            raise FileError(path, f"the training state's {name!r} generator state is malformed")
        result[name] = state.clone()
    return result


def set_generator(generator: torch.Generator, state: torch.Tensor, path: Path) -> None:
    """Restore ``generator`` from a saved state (torch rejects an impossible one)."""
    try:
        generator.set_state(state)
    except (RuntimeError, ValueError) as exc:
        raise FileError(path, f"a saved generator state is invalid ({one_line(exc)})") from exc


def restore_optimizer(optimizer: torch.optim.Optimizer, saved: dict[str, Any], path: Path) -> None:
    """Load the saved SGD state into ``optimizer`` (made over the restored model), keeping the
    config's hyper-parameters; the saved buffers must match the parameters one for one."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    groups = saved.get("param_groups")
    state = saved.get("state")
    if (
        not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict)
        or not isinstance(groups[0].get("params"), list) or len(groups[0]["params"]) != len(params)
        or not isinstance(state, dict)
    ):  # fmt: skip
        raise FileError(path, "the saved optimiser state does not match the model's parameters")
    for index, entry in state.items():
        _check_buffers(index, entry, params, path)
    fresh = optimizer.state_dict()["param_groups"]
    optimizer.load_state_dict({"state": state, "param_groups": fresh})


def _check_buffers(index: object, entry: object, params: list[nn.Parameter], path: Path) -> None:
    """One parameter's saved SGD state: a momentum buffer shaped like the parameter."""
    if not isinstance(index, int) or not 0 <= index < len(params) or not isinstance(entry, dict):
        raise FileError(path, "the saved optimiser state names a parameter the model lacks")
    buffer = entry.get("momentum_buffer")
    if set(entry) - {"momentum_buffer"} or not (
        buffer is None
        or (isinstance(buffer, torch.Tensor) and buffer.shape == params[index].shape
            and buffer.dtype == params[index].dtype and bool(torch.isfinite(buffer).all()))
    ):  # fmt: skip
        raise FileError(path, f"the saved momentum of parameter {index} does not fit the model")


def save_checkpoint(
    path: Path,
    model: nn.Module,
    history: list[str],
    metadata: Mapping[str, Any],
    state: TrainingState | None,
) -> Path:
    """Write a model checkpoint atomically, with the training state when there is one."""
    payload = native_payload(model, history, metadata)
    if state is not None:
        payload[STATE_KEY] = state.to_record()
    return atomic_write(path, lambda handle: torch.save(payload, handle), force=True)


def _load_payload(path: Path) -> dict[str, Any]:
    """``torch.load`` with ``weights_only`` (no code runs); this project's format only."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged archive
        raise FileError(path, f"unreadable checkpoint ({one_line(exc)})") from exc
    if not is_native(payload):
        raise FileError(path, "is not an rmt-gui training checkpoint")
    if STATE_KEY not in payload:
        raise FileError(path, "has no training state (written before resume existed); use --init")
    return payload


def _model(payload: dict[str, Any], path: Path) -> WeightTree:
    """The checkpoint's MLP, trainable: float32 finite weights chaining 784 -> 10."""
    weights = payload.get("state_dict")
    if not isinstance(weights, dict) or not weights or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) and v.dtype == torch.float32
        and v.ndim in (1, 2) and bool(torch.isfinite(v).all()) for k, v in weights.items()
    ):  # fmt: skip
        raise FileError(path, "the checkpoint's weights are missing, not float32 or not finite")
    model = tree_from_state_dict({key: value.clone() for key, value in weights.items()})
    architecture = payload.get("architecture")
    chain = architecture.get("chain") if isinstance(architecture, dict) else None
    if not model.chain or chain != model.chain:
        raise FileError(path, "the checkpoint's layers do not chain from 784 inputs to 10")
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model


def load_point(path: Path) -> ResumePoint:
    """One checkpoint as a :class:`ResumePoint`, checked throughout; else a :class:`FileError`."""
    payload = _load_payload(path)
    history = payload.get("history")
    if not isinstance(history, list) or not all(isinstance(line, str) for line in history):
        raise FileError(path, "the checkpoint's history is malformed")
    state = TrainingState.from_record(payload[STATE_KEY], path)
    return ResumePoint(path, _model(payload, path), tuple(history), state)


def _finished_text(run_dir: Path) -> str:
    """``finished all 10 epochs`` from ``run.json`` when it says so, else ``finished``."""
    started = read_summary(run_dir).get("started")
    config = started.get("config") if isinstance(started, dict) else None
    epochs = config.get("epochs") if isinstance(config, dict) else None
    return f"finished all {epochs} epochs" if isinstance(epochs, int) else "finished"


def checkpoint_files(run_dir: Path) -> list[Path]:
    """The checkpoints a run may go on from, newest first: ``cancelled.pt``, then each
    ``checkpoints/epoch-NNN.pt`` from the highest epoch down."""
    folder = run_dir / CHECKPOINTS
    numbered = []
    if folder.is_dir():
        for path in folder.iterdir():
            match = EPOCH_FILE.fullmatch(path.name)
            if match and path.is_file():
                numbered.append((int(match.group(1)), path))
    cancelled = run_dir / FINAL_NAMES["cancel"]
    head = [cancelled] if cancelled.is_file() else []
    return head + [path for _, path in sorted(numbered, reverse=True)]


def _check_run_folder(run_dir: Path) -> None:
    """Refuse what is not an unfinished run folder, in one line."""
    if not run_dir.exists():
        raise FileError(run_dir, "no such run folder")
    if not run_dir.is_dir():
        raise FileError(run_dir, "is a file, not a run folder")
    if not (run_dir / "run.json").is_file() and not (run_dir / CHECKPOINTS).is_dir():
        raise FileError(run_dir, "is not a training run folder (no run.json or checkpoints/)")
    if (run_dir / FINAL_NAMES["final"]).exists():
        raise FileError(run_dir, f"nothing to resume: the run {_finished_text(run_dir)}")


def find_resume_point(run_dir: str | Path) -> ResumePoint:
    """The newest readable checkpoint of an unfinished run in ``run_dir``.

    ``cancelled.pt`` and the newest good epoch checkpoint are compared by step; corrupt ones are
    skipped (each becomes a note). Refuses, in one line, a folder that is not a run, a finished
    run, a run without checkpoints, and a run whose checkpoints are all unreadable.
    """
    run_dir = Path(run_dir)
    _check_run_folder(run_dir)
    candidates = checkpoint_files(run_dir)
    if not candidates:
        raise FileError(
            run_dir, "nothing to resume from: no checkpoint was saved (it stopped in epoch 1)"
        )
    points, problems = [], []
    for path in candidates:
        try:
            points.append(load_point(path))
        except FileError as exc:
            problems.append(exc)
            continue
        if path.name != FINAL_NAMES["cancel"]:
            break
    if not points:
        first = problems[0]
        raise FileError(first.path, f"{first.problem}; no other checkpoint to resume from")
    best = max(points, key=lambda point: point.state.step)
    return replace(best, notes=tuple(f"{exc}; resuming from {best.path}" for exc in problems))
