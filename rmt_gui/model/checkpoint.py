"""What an opened model file offers: its fully connected layers, readable one at a time.

A layer's matrix is always returned as a 2-D float array of shape ``(out, in)``, PyTorch's
``nn.Linear.weight`` orientation; conv kernels ``(out, in, kh, kw)`` come reshaped to
``(out, in * kh * kw)`` and are marked as such.
"""

from __future__ import annotations

import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rmt_gui.errors import FileError

if TYPE_CHECKING:
    from torch import nn


def zip_names(path: Path) -> list[str] | None:
    """Member names of a readable zip archive, else ``None`` (any corruption counts)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except Exception:
        return None


@dataclass(frozen=True)
class LayerInfo:
    """One fully connected weight of a model file, in model order."""

    name: str
    shape: tuple[int, int]
    params: int
    dtype: str
    factor_group: str | None = None
    conv_shape: tuple[int, ...] | None = None

    @property
    def is_factor(self) -> bool:
        """Whether this weight is one half of a factorised ``Linear -> Linear`` pair."""
        return self.factor_group is not None


class Checkpoint(ABC):
    """An opened model file: format, where its weights came from, and its layers."""

    format: str = ""

    def __init__(self, path: Path, detail: str = "") -> None:
        self.path = Path(path)
        self.detail = detail

    @abstractmethod
    def layers(self) -> list[LayerInfo]:
        """Fully connected layers in model order."""

    @abstractmethod
    def _read(self, name: str) -> np.ndarray:
        """The raw weight array of layer ``name`` (any float dtype, any >= 2-D shape)."""

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A module holding every tensor of the file, for surgery, evaluation and export.

        It is runnable when the architecture is known (TorchScript, a trusted module, this
        project's format, or linear layers chaining 784 -> 10); otherwise it holds the weights
        and refuses ``forward`` with a clear message.
        """

    @cached_property
    def _layers_by_name(self) -> dict[str, LayerInfo]:
        """The layers by name, built once (a file's layers never change): each lookup is O(1)."""
        return {info.name: info for info in self.layers()}

    def layer(self, name: str) -> LayerInfo:
        """The :class:`LayerInfo` called ``name``."""
        info = self._layers_by_name.get(name)
        if info is None:
            raise FileError(self.path, f"no layer named {name!r}")
        return info

    def read(self, name: str) -> np.ndarray:
        """Layer ``name`` as a 2-D ``(out, in)`` array, half precision widened to float32."""
        info = self.layer(name)
        array = np.asarray(self._read(name))
        if array.dtype == np.float16:
            array = array.astype(np.float32)
        return array.reshape(info.shape)
