"""Export a model atomically (see :mod:`rmt_gui.model.atomic_file`) in one of five formats.

An existing file (the source included) is never replaced unless ``force`` is given. Without an
explicit format the file keeps the model runnable: our format for our MLPs, TorchScript for any
other module, whose code our format cannot record. ONNX (:mod:`rmt_gui.model.onnx_export`)
is checked against the model with onnxruntime before the file is written.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch import nn

from rmt_gui.errors import FileError, one_line
from rmt_gui.model.atomic_file import atomic_write
from rmt_gui.model.evaluate import check_runnable
from rmt_gui.model.export_formats import FORMATS, SUFFIX_FORMATS
from rmt_gui.model.jit import quiet_jit
from rmt_gui.model.modes import evaluation_mode
from rmt_gui.model.native import architecture_of, save_native
from rmt_gui.model.onnx_export import export_graph, require_onnx
from rmt_gui.model.tree import NotRunnableError, WeightTree


def default_format(model: nn.Module, path: str | Path) -> str:
    """The suffix's format (``.safetensors``, ``.ts``, ``.onnx``), else one that keeps ``model``
    runnable.

    Our format records only our own MLPs (and plain weights); any other module, TorchScript or
    a trusted pickle, stays runnable only as TorchScript.
    """
    by_name = SUFFIX_FORMATS.get(Path(path).suffix.lower())
    if by_name is not None:
        return by_name
    return "rmt-gui" if isinstance(model, WeightTree) else "torchscript"


def weights_only_warning(model: nn.Module, path: str | Path, fmt: str) -> str | None:
    """Why a ``fmt`` file at ``path`` cannot run ``model`` as it was, or ``None`` when it can."""
    if fmt in ("torchscript", "onnx") or isinstance(model, WeightTree):
        return None
    return f"{path} holds weights only, not the model's code: rmt-gui cannot run it as it was"


def _state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """CPU, contiguous, detached tensors of ``model``."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def _trace(model: nn.Module) -> torch.jit.ScriptModule:
    """``model`` traced on one MNIST image, ``[1, 1, 28, 28]`` or else flattened to ``[1, 784]``."""
    image = torch.zeros(1, 1, 28, 28)
    with torch.no_grad(), quiet_jit(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        try:
            return torch.jit.trace(model, image, check_trace=False)
        except Exception as first:
            try:
                return torch.jit.trace(model, image.flatten(1), check_trace=False)
            except Exception:
                raise NotRunnableError(
                    f"cannot convert the model to TorchScript: it does not run on MNIST images "
                    f"({one_line(first)})"
                ) from first


def _torchscript(model: nn.Module) -> torch.jit.ScriptModule:
    """``model`` as TorchScript: itself, or traced in evaluation mode."""
    if isinstance(model, torch.jit.ScriptModule):
        return model
    check_runnable(model)
    with evaluation_mode(model):
        return _trace(model)


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
    sample: torch.Tensor | None = None,
) -> Path:
    """Write ``model`` to ``path`` as ``fmt`` (:func:`default_format` when ``None``).

    With ``force`` an existing file or symbolic link at ``path`` is replaced (a link itself, not
    the file it points to). ``sample`` (images ``[N, 1, 28, 28]``) is the batch an ONNX export
    is checked on (default: seeded uniform pixels).
    """
    fmt = fmt or default_format(model, path)
    if fmt not in FORMATS:
        raise FileError(Path(path), f"unknown export format {fmt!r} (choose from {FORMATS})")
    scripted = _torchscript(model) if fmt == "torchscript" else None
    if fmt == "onnx":
        require_onnx(path)

    def write(handle: BinaryIO) -> None:
        if fmt == "rmt-gui":
            save_native(model, handle, history, metadata)
        elif fmt == "state-dict":
            torch.save(_state_dict(model), handle)
        elif fmt == "safetensors":
            _write_safetensors(model, handle, metadata or {})
        elif fmt == "onnx":
            handle.write(export_graph(model, path, sample).data)
        else:
            with quiet_jit():
                torch.jit.save(scripted, handle)

    return atomic_write(Path(path), write, force=force)
