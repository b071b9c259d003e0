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
from typing import TYPE_CHECKING, Any

import numpy as np

from rmt_gui.errors import FileError
from rmt_gui.model.roles import LayerRole, layer_role

if TYPE_CHECKING:
    from torch import nn

    from rmt_gui.spectral import Spectrum


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
    adapter_rank: int | None = None
    """For an adapter update ``ΔW = scale · B · A`` (a LoRA layer): ``r``, its rank bound."""

    @property
    def is_factor(self) -> bool:
        """Whether this weight is one half of a factorised ``Linear -> Linear`` pair."""
        return self.factor_group is not None

    @cached_property
    def role(self) -> LayerRole:
        """What the layer is for (embedding, attention query, ...) and its block, from its name."""
        return layer_role(self.name, self.conv_shape or self.shape)

    @property
    def prunable(self) -> bool:
        """Whether ``prune`` cuts it by default: not an embedding, head or norm, nor an adapter
        update (a difference to a model's layer, not a layer)."""
        return self.adapter_rank is None and self.role.prunable

    def to_json(self) -> dict[str, Any]:
        """Role, block, whether prunable by default and, for an adapter update, its rank."""
        record = {**self.role.to_json(), "prunable": self.prunable}
        return (
            record if self.adapter_rank is None else {**record, "adapter_rank": self.adapter_rank}
        )


@dataclass(frozen=True)
class Architecture:
    """What a model folder's ``config.json`` says: model type, hidden size, number of layers."""

    model_type: str | None
    hidden_size: int | None
    layers: int | None

    def describe(self) -> str:
        """``bert, hidden 384, 6 layers`` (unknown parts left out)."""
        parts = [
            self.model_type or "unknown model type",
            f"hidden {self.hidden_size}" if self.hidden_size is not None else "",
            f"{self.layers} layers" if self.layers is not None else "",
        ]
        return ", ".join(filter(None, parts))

    def to_json(self) -> dict[str, Any]:
        """``{"model_type", "hidden_size", "layers"}``, ``null`` where unknown."""
        return {
            "model_type": self.model_type,
            "hidden_size": self.hidden_size,
            "layers": self.layers,
        }


class Checkpoint(ABC):
    """An opened model file: format, where its weights came from, and its layers."""

    format: str = ""
    architecture: Architecture | None = None
    """The model's architecture where the file says (a Hugging Face folder's ``config.json``)."""

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

    def low_rank_spectrum(self, name: str) -> Spectrum | None:
        """Layer ``name``'s spectrum computed from its low-rank factors, for an adapter update.

        ``None`` (the default) means the layer is an ordinary matrix: analyse :meth:`read`.
        """
        return None

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
