"""Checkpoints whose content is a flat mapping of tensor names to tensors (a state dict)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.layers import TensorMeta, layers_from_tensors
from rmt_gui.model.tree import tree_from_state_dict


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A float numpy view or copy of ``tensor`` (half and bfloat16 are widened to float32)."""
    tensor = tensor.detach().cpu()
    if tensor.dtype in (torch.float16, torch.bfloat16) or not tensor.is_floating_point():
        tensor = tensor.to(torch.float32)
    return tensor.numpy()


class TensorCheckpoint(Checkpoint):
    """A state dict held as tensors (memory-mapped where ``torch.load`` allows it)."""

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
        self.tensors = dict(tensors)
        self.history = list(history)
        self.metadata = dict(metadata or {})
        self._chain = list(chain) if chain is not None else None
        self._layers = layers_from_tensors(
            TensorMeta(name, tuple(t.shape), str(t.dtype)) for name, t in self.tensors.items()
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
