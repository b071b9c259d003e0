"""Models and opened files as plain data, so they can cross a process boundary (no Qt).

A worker process opens a file and builds its model; the UI process rebuilds the model from a
:class:`ModelData`, never from a pickled ``nn.Module`` (unpickling one runs code, and only the
worker may do that, for a file the user trusted). Two shapes of data:

- a module tree (this project's MLPs, weights-only trees, factorised pairs): every tensor of
  the state dict as its raw bytes in a ``uint8`` numpy array with its torch dtype and shape
  (exact for every dtype, bfloat16 included), plus the architecture record of
  :func:`rmt_gui.model.native.architecture_of`, checked on the way back by
  :func:`rmt_gui.model.native.read_payload`;
- any other module (TorchScript, a trusted pickled module): TorchScript bytes. A trusted
  module is scripted with ``torch.jit.script``; one that cannot be scripted crosses as its
  weights only, and its ``not_runnable`` says why.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rmt_gui.errors import one_line

if TYPE_CHECKING:
    import torch
    from torch import nn

    from rmt_gui.jobs.control import CancelToken, PauseGate
    from rmt_gui.model.checkpoint import Checkpoint

SCRIPT_KIND = "torchscript"


@dataclass(frozen=True)
class FileRecord:
    """What the UI keeps of an opened file besides its model: where, what format, its notes.

    ``modules`` says whether layers are found by walking the model's modules (TorchScript and
    trusted modules) rather than from its state dict's tensor names.
    """

    path: Path
    format: str
    detail: str = ""
    history: tuple[str, ...] = ()
    modules: bool = False


@dataclass(frozen=True)
class TensorData:
    """One tensor as bytes: ``data`` is ``uint8`` (C order), ``dtype`` a torch dtype name."""

    dtype: str
    shape: tuple[int, ...]
    data: np.ndarray


@dataclass(frozen=True)
class ModelData:
    """A model as data: a module tree's tensors and architecture, or TorchScript bytes."""

    architecture: Mapping[str, Any]
    tensors: Mapping[str, TensorData] = field(default_factory=dict)
    script: bytes = b""
    note: str = ""

    @property
    def nbytes(self) -> int:
        """Bytes of tensor data or TorchScript archive carried."""
        return len(self.script) + sum(t.data.nbytes for t in self.tensors.values())


def record_of(checkpoint: Checkpoint) -> FileRecord:
    """The :class:`FileRecord` of an opened checkpoint."""
    from rmt_gui.model.formats.torch_files import ModuleCheckpoint

    history = tuple(str(step) for step in getattr(checkpoint, "history", None) or ())
    return FileRecord(
        checkpoint.path, checkpoint.format, checkpoint.detail, history,
        isinstance(checkpoint, ModuleCheckpoint),
    )  # fmt: skip


def tensor_to_data(tensor: torch.Tensor) -> TensorData:
    """``tensor`` (detached, on the CPU) as its raw bytes, dtype and shape."""
    import torch

    flat = tensor.detach().cpu().contiguous().reshape(-1)
    data = flat.view(torch.uint8).numpy()
    return TensorData(str(tensor.dtype).removeprefix("torch."), tuple(tensor.shape), data)


def tensor_from_data(item: TensorData) -> torch.Tensor:
    """The tensor :func:`tensor_to_data` described (sharing ``data``'s memory when writeable)."""
    import torch

    data = np.require(item.data, dtype=np.uint8, requirements=["C", "W"])
    return torch.from_numpy(data).view(getattr(torch, item.dtype)).reshape(item.shape)


def _script_bytes(module: nn.Module) -> bytes:
    """A TorchScript module saved to bytes."""
    import torch

    from rmt_gui.model.jit import quiet_jit

    buffer = io.BytesIO()
    with quiet_jit():
        torch.jit.save(module, buffer)
    return buffer.getvalue()


def _tree_data(model: nn.Module, note: str = "") -> ModelData:
    """The state dict and architecture record of ``model`` (a tree, or any module's weights)."""
    from rmt_gui.model.native import architecture_of

    tensors = {key: tensor_to_data(value) for key, value in model.state_dict().items()}
    return ModelData(architecture_of(model), tensors, note=note)


def model_to_data(model: nn.Module) -> ModelData:
    """``model`` as data: trees as tensors, TorchScript as bytes, other modules scripted first
    (weights only, with a note, when scripting fails)."""
    import torch

    from rmt_gui.model.jit import quiet_jit
    from rmt_gui.model.tree import WeightTree

    if isinstance(model, WeightTree):
        return _tree_data(model)
    if isinstance(model, torch.jit.ScriptModule):
        return ModelData({"kind": SCRIPT_KIND}, script=_script_bytes(model))
    try:
        with quiet_jit():
            scripted = torch.jit.script(model.eval())
    except Exception as exc:
        note = f"the module cannot be converted to TorchScript ({one_line(exc, 100)}): spectra only"
        return _tree_data(model, note)
    return ModelData({"kind": SCRIPT_KIND}, script=_script_bytes(scripted))


def model_from_data(data: ModelData) -> nn.Module:
    """The module :func:`model_to_data` described: a TorchScript module or a WeightTree."""
    import torch

    from rmt_gui.model.jit import quiet_jit
    from rmt_gui.model.native import FORMAT_TAG, FORMAT_VERSION, read_payload
    from rmt_gui.model.tree import tree_from_state_dict

    if data.architecture.get("kind") == SCRIPT_KIND:
        with quiet_jit():
            return torch.jit.load(io.BytesIO(data.script), map_location="cpu").eval()
    state = {key: tensor_from_data(item) for key, item in data.tensors.items()}
    payload = {"format": FORMAT_TAG, "version": FORMAT_VERSION, "state_dict": state,
               "architecture": dict(data.architecture)}  # fmt: skip
    content = read_payload(payload)
    tree = tree_from_state_dict(content.state_dict)
    tree.chain = list(content.chain or ())
    return tree


def model_job(
    cancel: CancelToken, pause: PauseGate, module: str, function: str, data: ModelData, *args: Any
) -> Iterator[Any]:
    """A worker job on a model sent as data: ``module.function(model, *args, cancel)``.

    Evaluation, rank sweeps and export all take the model first and the token last, so one
    entry point serves them (:class:`rmt_gui.jobs.process_worker.JobSpec` names it).
    """
    target = getattr(import_module(module), function)
    yield from target(model_from_data(data), *args, cancel)
