"""One weights file inside a model folder (a shard, an adapter), read tensor by tensor.

A ``.safetensors`` file is memory-mapped, its header parsed and checked on open; a ``.bin`` file
(``torch.save`` of a state dict) is loaded with ``weights_only=True``. :meth:`WeightFile.release`
drops the map or the loaded tensors, so a folder of many shards holds one at a time.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import Checkpoint
from rmt_gui.model.formats.safetensors_file import SafetensorsCheckpoint, read_header
from rmt_gui.model.layers import TensorMeta

if TYPE_CHECKING:
    import torch

    from rmt_gui.model.formats.tensors import TensorCheckpoint


def _open_torch_weights(path: Path) -> TensorCheckpoint:
    """A ``.bin`` state dict, loaded safely (torch imported only now: it is slow to import)."""
    from rmt_gui.model.formats.tensors import TensorCheckpoint
    from rmt_gui.model.formats.torch_files import open_torch_file

    checkpoint = open_torch_file(path, trust=False)
    if not isinstance(checkpoint, TensorCheckpoint):
        raise FileError(path, f"a {checkpoint.format} file, not a state dict of weights")
    return checkpoint


class WeightFile:
    """Names, shapes and data of the tensors of one safetensors or ``.bin`` file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.is_safetensors = path.suffix == ".safetensors"
        if not path.is_file():
            raise FileError(path, "no such file (the folder's index or config names it)")
        self._open: Checkpoint | None = None
        if self.is_safetensors:
            entries, _, _ = read_header(path)
            self.metas = [TensorMeta(n, tuple(e["shape"]), e["dtype"]) for n, e in entries.items()]
        else:
            self._open = _open_torch_weights(path)
            tensors = self._open.tensors
            self.metas = [TensorMeta(n, tuple(t.shape), str(t.dtype)) for n, t in tensors.items()]

    @cached_property
    def names(self) -> frozenset[str]:
        """Every tensor name the file holds (built once: shards are checked name by name)."""
        return frozenset(meta.name for meta in self.metas)

    def _checkpoint(self) -> Checkpoint:
        """The open reader, opened on first use after :meth:`release`."""
        if self._open is None:
            self._open = (
                SafetensorsCheckpoint(self.path)
                if self.is_safetensors
                else _open_torch_weights(self.path)
            )
        return self._open

    def array(self, name: str) -> np.ndarray:
        """Tensor ``name`` as a float numpy array (a view of the map for safetensors)."""
        return self._checkpoint()._read(name)

    def torch_tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor as a torch tensor (copies for safetensors), for building a module."""
        return dict(self._checkpoint().build_model().state_dict())

    @property
    def is_open(self) -> bool:
        """Whether the file is mapped or loaded now."""
        return self._open is not None

    def release(self) -> None:
        """Forget the map or loaded tensors; arrays handed out stay valid while referenced."""
        self._open = None
