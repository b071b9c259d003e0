"""Files written by ``torch.save`` or ``torch.jit.save``.

State dicts, training checkpoints wrapping one, and this project's format load with
``weights_only=True`` (memory-mapped when the file is a zip archive). A pickled ``nn.Module``
needs real unpickling, which can run arbitrary code, so it is refused unless ``trust`` is given.
"""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rmt_gui.errors import FileError, one_line
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo, zip_names
from rmt_gui.model.formats.tensors import TensorCheckpoint, to_numpy
from rmt_gui.model.jit import quiet_jit
from rmt_gui.model.module_layers import layers_from_module
from rmt_gui.model.native import FORMAT_VERSION, is_native

WRAPPER_KEYS = (
    "model_state_dict", "state_dict", "model", "model_state", "net", "network",
    "module", "weights", "params", "ema", "student",
)  # fmt: skip

TRUST_HINT = (
    "it holds a pickled Python object ({what}); unpickling runs code from the file, so it is "
    "refused. If you trust where it came from, open it with --trust (or confirm in the app)"
)


class TrustRequiredError(FileError):
    """The file needs full unpickling; the message explains the risk and how to allow it."""


class ModuleCheckpoint(Checkpoint):
    """A TorchScript archive or a trusted pickled module: the architecture comes with it."""

    def __init__(self, path: Path, module: nn.Module, fmt: str, detail: str = "") -> None:
        super().__init__(path, detail)
        self.format = fmt
        self.module = module.eval()
        self._layers = layers_from_module(self.module)
        self._state = self.module.state_dict()

    def layers(self) -> list[LayerInfo]:
        return list(self._layers)

    def _read(self, name: str) -> np.ndarray:
        return to_numpy(self._state[name])

    def build_model(self) -> nn.Module:
        return self.module


def is_state_dict(value: object) -> bool:
    """A non-empty mapping of string keys to tensors."""
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    )


def find_state_dict(payload: object) -> tuple[Mapping[str, torch.Tensor], str] | None:
    """The state dict inside ``payload`` and the key path it was found under ('' for the top)."""
    if is_state_dict(payload):
        return payload, ""
    if not isinstance(payload, Mapping):
        return None
    keys = [k for k in WRAPPER_KEYS if k in payload] + [k for k in payload if k not in WRAPPER_KEYS]
    for key in keys:
        value = payload[key]
        if is_state_dict(value):
            return value, str(key)
        if isinstance(value, Mapping):
            inner = find_state_dict(value)
            if inner is not None and inner[1]:
                return inner[0], f"{key}.{inner[1]}"
    return None


def is_torchscript(path: Path) -> bool:
    """A zip archive with TorchScript code (``code/`` or ``constants.pkl``)."""
    names = zip_names(path)
    if names is None:
        return False
    return any("/code/" in name or name.endswith("/constants.pkl") for name in names)


def _unsupported_global(message: str) -> str:
    """The ``module.name`` that ``weights_only`` refused, from torch's error message."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    return found.group(1) if found else "data the safe loader does not accept"


def _class_problem(exc: Exception) -> str:
    """Why a trusted pickle's class could not be found, and what to do instead."""
    text = str(exc)
    missing = re.search(r"Can't get attribute '([\w.]+)' on <module '([\w.]+)'", text)
    if missing and missing.group(2).endswith("__main__"):
        return (
            f"the pickled model's class {missing.group(1)!r} was defined in the script that "
            "saved it (__main__), so it cannot be rebuilt here; save model.state_dict() "
            "or TorchScript instead"
        )
    return (
        f"the pickled model's class is not importable here ({one_line(exc)}); "
        "save model.state_dict() or TorchScript instead"
    )


def _load(path: Path, weights_only: bool) -> object:
    """``torch.load`` on the CPU, memory-mapped for zip archives; errors become one line."""
    mmap = zipfile.is_zipfile(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=weights_only, mmap=mmap)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if weights_only and "weights only load failed" in text.lower():
            what = _unsupported_global(text)
            raise TrustRequiredError(path, TRUST_HINT.format(what=what)) from exc
        raise FileError(path, f"corrupt pickle data ({one_line(text)})") from exc
    except (EOFError, zipfile.BadZipFile) as exc:
        raise FileError(path, "truncated or corrupt PyTorch file") from exc
    except (AttributeError, ImportError) as exc:
        if weights_only:
            raise FileError(path, f"corrupt PyTorch file ({one_line(exc)})") from exc
        raise FileError(path, _class_problem(exc)) from exc
    except MemoryError as exc:
        raise FileError(path, "corrupt PyTorch file (asks for more memory than exists)") from exc
    except Exception as exc:
        reason = (
            one_line(exc)
            if isinstance(exc, RuntimeError)
            else f"{type(exc).__name__}: {one_line(exc)}"
        )
        raise FileError(path, f"truncated or corrupt PyTorch file ({reason})") from exc


def open_torchscript(path: Path) -> Checkpoint:
    """Load a TorchScript archive on the CPU."""
    try:
        with quiet_jit():
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise FileError(path, f"corrupt TorchScript archive ({one_line(exc)})") from exc
    return ModuleCheckpoint(path, module, "torchscript", "TorchScript archive")


def _native(path: Path, payload: dict) -> Checkpoint:
    """This project's format: weights plus the recorded MLP chain."""
    if payload.get("version", 0) > FORMAT_VERSION:
        raise FileError(path, f"written by a newer rmt-gui (format version {payload['version']})")
    state = payload.get("state_dict")
    if not is_state_dict(state):
        raise FileError(path, "rmt-gui checkpoint without weights")
    arch = payload.get("architecture") or {}
    chain = arch.get("chain") if arch.get("kind") == "mlp" else None
    steps = len(payload.get("history") or [])
    detail = f"rmt-gui checkpoint, {'MLP' if chain else 'weights only'}, {steps} history steps"
    return TensorCheckpoint(
        path, state, "rmt-gui", detail, chain=chain,
        history=payload.get("history") or (), metadata=payload.get("metadata"),
    )  # fmt: skip


def open_torch_file(path: Path, trust: bool = False) -> Checkpoint:
    """Open any ``torch.save``/``torch.jit.save`` file; pickled modules only with ``trust``."""
    if is_torchscript(path):
        return open_torchscript(path)
    payload = _load(path, weights_only=not trust)
    if is_native(payload):
        return _native(path, payload)
    if isinstance(payload, nn.Module):
        return ModuleCheckpoint(path, payload, "pickled-module", "trusted pickled nn.Module")
    found = find_state_dict(payload)
    if found is None:
        if isinstance(payload, Mapping) and any(isinstance(v, nn.Module) for v in payload.values()):
            key = next(k for k, v in payload.items() if isinstance(v, nn.Module))
            return ModuleCheckpoint(path, payload[key], "pickled-module", f"module under {key!r}")
        raise FileError(path, "no tensors found: not a state dict or a checkpoint that wraps one")
    state, key = found
    if key:
        others = sorted(str(k) for k in payload if k != key.split(".")[0])
        detail = f"weights under key {key!r}" + (f" (also: {', '.join(others)})" if others else "")
        return TensorCheckpoint(path, state, "training-checkpoint", detail)
    return TensorCheckpoint(path, state, "state-dict", f"{len(state)} tensors")
