"""This project's checkpoint format: weights plus the architecture, loadable with weights_only.

A ``torch.save`` zip archive of one dict made only of plain types and tensors::

    {"format": "rmt-gui-checkpoint", "version": 1,
     "state_dict": {name: tensor},          # a factorised layer P as P.0.weight, P.1.weight/bias
     "architecture": {"kind": "mlp", "chain": ["fc1", "fc2"], "input_shape": [1, 28, 28],
                      "activation": "relu", "output": "log_softmax"}   # or {"kind": "weights"}
     "history": ["opened", "BEMA, keep 0.45 of noise", ...],
     "metadata": {...}}                              # free-form: training config, metrics, source

The MLP applies ReLU between chained layers, none between the two factors of a pair.
:func:`read_payload` checks a loaded payload field by field: wrong weights, version or
architecture are refused in one line; a malformed history or metadata is dropped with a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeGuard

import torch
from torch import nn

from rmt_gui.errors import RmtGuiError
from rmt_gui.model.tree import WeightTree

FORMAT_TAG = "rmt-gui-checkpoint"
FORMAT_VERSION = 1
ARCHITECTURE_KINDS = ("mlp", "weights")
MLP_FIXED = {"activation": "relu", "output": "log_softmax"}
SHOWN_VERSION_LIMIT = 10**9


class NativeFormatError(RmtGuiError):
    """A payload tagged as this project's format whose fields are of the wrong kind."""


@dataclass(frozen=True)
class NativeContent:
    """What a checked payload holds; ``notes`` say which harmless fields were dropped."""

    state_dict: dict[str, torch.Tensor]
    chain: list[str] | None
    history: list[str]
    metadata: dict[str, Any]
    notes: tuple[str, ...]


def architecture_of(model: nn.Module) -> dict[str, Any]:
    """The architecture record of ``model``: an MLP chain, or weights only."""
    if isinstance(model, WeightTree) and model.chain:
        return {
            "kind": "mlp",
            "chain": list(model.chain),
            "input_shape": [1, 28, 28],
            **MLP_FIXED,
        }
    return {"kind": "weights"}


def native_payload(
    model: nn.Module, history: list[str] | None = None, metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The dict saved for ``model`` (tensors detached and contiguous, on the CPU)."""
    return {
        "format": FORMAT_TAG,
        "version": FORMAT_VERSION,
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "architecture": architecture_of(model),
        "history": list(history or []),
        "metadata": dict(metadata or {}),
    }


def save_native(
    model: nn.Module,
    target: BinaryIO,
    history: list[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write ``model`` in this project's format to an open binary file."""
    torch.save(native_payload(model, history, metadata), target)


def is_native(payload: object) -> TypeGuard[dict[Any, Any]]:
    """Whether a loaded object is this project's checkpoint dict."""
    return isinstance(payload, dict) and payload.get("format") == FORMAT_TAG


def _kind(value: object) -> str:
    """A short, safe description of a wrong value: ``text '1'``, ``a float (1.5)``, ``none``."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return f"text {value[:20]!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"a {type(value).__name__}"
    if isinstance(value, float):
        return f"a float ({value:.6g})"
    return f"{value}" if abs(value) < SHOWN_VERSION_LIMIT else "a huge number"


def _check_version(payload: Mapping[str, Any]) -> None:
    """Refuse a format version that is not a whole number from 1 to :data:`FORMAT_VERSION`."""
    version = payload.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise NativeFormatError(
            f"rmt-gui checkpoint with a bad format version ({_kind(version)}; expected a whole "
            f"number up to {FORMAT_VERSION})"
        )
    if version > FORMAT_VERSION:
        raise NativeFormatError(f"written by a newer rmt-gui (format version {_kind(version)})")
    if version < 1:
        raise NativeFormatError(f"rmt-gui checkpoint with an unknown format version {version}")


def _state_dict(payload: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The payload's weights: a non-empty mapping of text names to tensors."""
    state = payload.get("state_dict")
    if state is None or (isinstance(state, Mapping) and not state):
        raise NativeFormatError("rmt-gui checkpoint without weights")
    if not isinstance(state, Mapping):
        raise NativeFormatError(f"rmt-gui checkpoint whose state_dict is {_kind(state)}")
    for key, value in state.items():
        if not isinstance(key, str):
            raise NativeFormatError(f"rmt-gui checkpoint with a weight named by {_kind(key)}")
        if not isinstance(value, torch.Tensor):
            raise NativeFormatError(f"rmt-gui checkpoint whose weight {key} is {_kind(value)}")
    return dict(state)


def _weight_shape(state: Mapping[str, torch.Tensor], name: str) -> tuple[int, int] | None:
    """``(out, in)`` of chain layer ``name``: one 2-D float weight, or a factor pair."""
    single = f"{name}.weight"
    keys = [single] if single in state else [f"{name}.0.weight", f"{name}.1.weight"]
    weights = [w for w in map(state.get, keys) if w is not None and w.ndim == 2]
    if len(weights) != len(keys) or not all(w.is_floating_point() for w in weights):
        return None
    return int(weights[-1].shape[0]), int(weights[0].shape[1])


def _input_width(architecture: Mapping[str, Any]) -> int | None:
    """Pixels per input from ``input_shape`` (``[1, 28, 28]`` -> 784), None if not given."""
    shape = architecture.get("input_shape")
    if shape is None:
        return None
    if not isinstance(shape, list) or not shape or not all(
        isinstance(size, int) and not isinstance(size, bool) and 0 < size < 2**31 for size in shape
    ):  # fmt: skip
        raise NativeFormatError(f"rmt-gui checkpoint whose input_shape is {_kind(shape)}")
    return math.prod(shape)


def _check_chain(chain: list[str], state: Mapping[str, torch.Tensor], width: int | None) -> None:
    """Every chain layer exists and each one's outputs feed the next one's inputs."""
    previous = None
    for name in chain:
        shape = _weight_shape(state, name)
        if shape is None:
            raise NativeFormatError(f"rmt-gui checkpoint whose chain names a missing layer {name}")
        rows, cols = shape
        if width is not None and cols != width:
            source = f"{previous} gives" if previous else "the input has"
            raise NativeFormatError(
                f"rmt-gui checkpoint whose chain does not connect: {source} {width} values "
                f"but {name} takes {cols}"
            )
        previous, width = name, rows


def _chain(payload: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> list[str] | None:
    """The MLP chain of the payload's architecture, or None for weights only."""
    architecture = payload.get("architecture")
    if architecture is None:
        return None
    if not isinstance(architecture, Mapping):
        raise NativeFormatError(f"rmt-gui checkpoint whose architecture is {_kind(architecture)}")
    kind = architecture.get("kind")
    if kind not in ARCHITECTURE_KINDS:
        raise NativeFormatError(
            f"rmt-gui checkpoint with an unknown architecture kind ({_kind(kind)}; "
            f"expected {' or '.join(ARCHITECTURE_KINDS)})"
        )
    if kind == "weights":
        return None
    for field, expected in MLP_FIXED.items():
        if architecture.get(field, expected) != expected:
            raise NativeFormatError(
                f"rmt-gui checkpoint whose {field} is {_kind(architecture[field])} "
                f"(only {expected} is supported)"
            )
    chain = architecture.get("chain")
    if not isinstance(chain, list) or not chain or not all(isinstance(n, str) for n in chain):
        raise NativeFormatError(
            f"rmt-gui checkpoint whose MLP chain is {_kind(chain)}, not a list of layer names"
        )
    _check_chain(chain, state, _input_width(architecture))
    return list(chain)


def read_payload(payload: Mapping[str, Any]) -> NativeContent:
    """Check a loaded payload of this format; raise :class:`NativeFormatError` if unusable."""
    _check_version(payload)
    state = _state_dict(payload)
    chain = _chain(payload, state)
    notes = []
    history = payload.get("history")
    if history is not None and (
        not isinstance(history, list) or not all(isinstance(step, str) for step in history)
    ):
        notes.append(f"history ignored ({_kind(history)}, not a list of text)")
        history = None
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        notes.append(f"metadata ignored ({_kind(metadata)}, not a mapping)")
        metadata = None
    return NativeContent(state, chain, list(history or ()), dict(metadata or {}), tuple(notes))
