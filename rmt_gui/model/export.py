"""Export a model atomically: written to a temporary file beside the target, then renamed.

An existing file (the source included) is never replaced unless ``force`` is given.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch import nn

from rmt_gui.errors import FileError
from rmt_gui.model.evaluate import check_runnable
from rmt_gui.model.jit import quiet_jit
from rmt_gui.model.native import architecture_of, save_native

FORMATS = ("rmt-gui", "state-dict", "safetensors", "torchscript")
SUFFIX_FORMATS = {".safetensors": "safetensors", ".ts": "torchscript", ".jit": "torchscript"}


def infer_format(path: str | Path) -> str:
    """Format from the file name: ``.safetensors``, ``.ts``/``.jit`` (TorchScript), else ours."""
    return SUFFIX_FORMATS.get(Path(path).suffix.lower(), "rmt-gui")


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[BinaryIO], None], force: bool = False) -> Path:
    """Call ``write`` on a temporary file in ``path``'s folder, then rename it into place.

    The result gets the usual permissions of a new file (or keeps those of the file it replaces).
    """
    path = Path(path)
    if path.exists() and not force:
        raise FileError(path, "already exists; choose another name or pass --force to replace it")
    if path.is_dir():
        raise FileError(path, "is a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileError(path, f"folder {folder} does not exist")
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """CPU, contiguous, detached tensors of ``model``."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def _torchscript(model: nn.Module) -> torch.jit.ScriptModule:
    """``model`` as TorchScript: itself, scripted, or traced on one MNIST-shaped input."""
    if isinstance(model, torch.jit.ScriptModule):
        return model
    check_runnable(model)
    example = torch.zeros(1, 1, 28, 28)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), quiet_jit():
            return torch.jit.trace(model, example, check_trace=False)
    finally:
        model.train(was_training)


def _write_safetensors(model: nn.Module, handle: BinaryIO, metadata: Mapping[str, Any]) -> None:
    """The state dict in safetensors encoding, with the architecture as string metadata."""
    from safetensors.torch import save

    meta = {"architecture": json.dumps(architecture_of(model)), **(metadata or {})}
    handle.write(save(_state_dict(model), metadata={k: str(v) for k, v in meta.items()}))


def export_model(
    model: nn.Module,
    path: str | Path,
    fmt: str | None = None,
    *,
    force: bool = False,
    history: list[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` to ``path`` as ``fmt`` (inferred from the name when ``None``)."""
    fmt = fmt or infer_format(path)
    if fmt not in FORMATS:
        raise FileError(Path(path), f"unknown export format {fmt!r} (choose from {FORMATS})")
    scripted = _torchscript(model) if fmt == "torchscript" else None

    def write(handle: BinaryIO) -> None:
        if fmt == "rmt-gui":
            save_native(model, handle, history, metadata)
        elif fmt == "state-dict":
            torch.save(_state_dict(model), handle)
        elif fmt == "safetensors":
            _write_safetensors(model, handle, metadata or {})
        else:
            with quiet_jit():
                torch.jit.save(scripted, handle)

    return atomic_write(Path(path), write, force=force)
