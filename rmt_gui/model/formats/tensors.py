"""Checkpoints whose content is a flat mapping of tensor names to tensors (a state dict).

Every tensor is checked on open, so that reading, analysing, pruning and exporting it later
cannot fail half-way: meta and nested tensors are refused (no data to show), sparse tensors are
made dense and float8 ones widened to float32, and a tensor that repeats its stored values
(overlapping strides, e.g. ``expand``) is copied out, all within :data:`EXPAND_LIMIT` values,
so the work and memory stay proportional to the file's size.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.layers import TensorMeta, layers_from_tensors
from rmt_gui.model.tree import tree_from_state_dict

EXPAND_LIMIT = 1 << 24
"""Values one file's tensors may hold beyond those it stores (sparse, repeated): 64 MB float32."""

NUMPY_FLOATS = (torch.float32, torch.float64)
FLOAT8 = frozenset(
    getattr(torch, name)
    for name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                 "float8_e8m0fnu")
    if hasattr(torch, name)
)  # fmt: skip


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A float numpy view or copy of a :func:`usable_tensor` (dense already; every dtype but
    float32/64 widened to float32)."""
    tensor = tensor.detach().cpu()
    if tensor.dtype not in NUMPY_FLOATS:
        tensor = tensor.to(torch.float32)
    return tensor.numpy()


def _stored_values(tensor: torch.Tensor) -> int:
    """How many values of ``tensor``'s dtype its storage holds."""
    return tensor.untyped_storage().nbytes() // max(tensor.element_size(), 1)


def _shape(tensor: torch.Tensor) -> str:
    """``32x784`` for a tensor of shape ``(32, 784)``."""
    return "x".join(str(size) for size in tensor.shape) or "scalar"


class ExpansionBudget:
    """Values the tensors of one file may hold beyond those it stores: :data:`EXPAND_LIMIT`
    in all, so many small sparse or repeated tensors cannot add up to an exhausted memory."""

    def __init__(self, limit: int = EXPAND_LIMIT) -> None:
        self.left = limit

    def spend(self, path: Path, name: str, tensor: torch.Tensor, what: str) -> None:
        """Take ``tensor``'s values from the budget, or refuse layer ``name`` (``what`` it is)."""
        if tensor.numel() > self.left:
            raise FileError(path, f"layer {name} {what}, too large to expand here")
        self.left -= tensor.numel()


def usable_tensor(
    path: Path, name: str, tensor: torch.Tensor, budget: ExpansionBudget
) -> torch.Tensor:
    """``tensor`` as dense data that numpy and surgery accept, else a one-line FileError."""
    if tensor.is_nested:
        raise FileError(path, f"tensor {name} is a nested tensor (only plain tensors are read)")
    if tensor.is_meta:
        raise FileError(path, f"layer {name} has no data (meta tensor)")
    if tensor.layout != torch.strided:
        budget.spend(path, name, tensor, f"is a sparse {_shape(tensor)} tensor")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns that sparse CSR support is in beta
            tensor = tensor.to_dense()
    elif not tensor.is_quantized and tensor.numel() > _stored_values(tensor):
        what = (
            f"repeats {_stored_values(tensor)} stored values as a {_shape(tensor)} tensor "
            "(overlapping strides)"
        )
        budget.spend(path, name, tensor, what)
        tensor = tensor.contiguous()
    if tensor.dtype in FLOAT8:
        tensor = tensor.to(torch.float32)
    return tensor


def usable_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every tensor of one file made usable (:func:`usable_tensor`), sharing one budget."""
    budget = ExpansionBudget()
    return {name: usable_tensor(path, name, tensor, budget) for name, tensor in tensors.items()}


class TensorCheckpoint(Checkpoint):
    """A state dict held as tensors (memory-mapped where ``torch.load`` allows it).

    Layers keep the dtype the file stores (``float8_e4m3fn``) though their data is widened.
    """

    def __init__(
        self,
        path: Path,
        tensors: Mapping[str, torch.Tensor],
        fmt: str,
        detail: str = "",
        chain: Sequence[str] | None = None,
        history: Sequence[str] = (),
        metadata: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(path, detail)
        self.format = fmt
        self.tensors = usable_tensors(path, tensors)
        self.history = list(history)
        self.metadata = dict(metadata or {})
        self._chain = list(chain) if chain is not None else None
        self._layers = layers_from_tensors(
            TensorMeta(name, tuple(t.shape), str(t.dtype)) for name, t in tensors.items()
        )

    def layers(self) -> list[LayerInfo]:
        return list(self._layers)

    def _read(self, name: str) -> np.ndarray:
        return to_numpy(self.tensors[name])

    def build_model(self) -> nn.Module:
        tree = tree_from_state_dict(self.tensors)
        if self._chain is not None:
            tree.chain = list(self._chain)
        return tree
