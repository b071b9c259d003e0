"""A PEFT LoRA adapter folder: one layer per target module, its matrix the update ``ΔW``.

``adapter_config.json`` beside ``adapter_model.safetensors`` (or ``adapter_model.bin``, loaded with
``weights_only=True``). Each target module ``M`` stores ``M.lora_A.weight`` ``(r, in)`` and
``M.lora_B.weight`` ``(out, r)`` under the prefix ``base_model.model.``; its layer is named ``M``
and its matrix is ``ΔW = scale · B · A`` of shape ``(out, in)`` and rank at most ``r``, with
``scale = lora_alpha / r`` (``lora_alpha / sqrt(r)`` with ``use_rslora``; ``rank_pattern`` and
``alpha_pattern`` override ``r`` and ``lora_alpha`` per module, as in PEFT). Embedding adapters
(``lora_embedding_A`` ``(r, rows)``, ``lora_embedding_B`` ``(dim, r)``) give ``(B · A)ᵀ`` of shape
``(rows, dim)``; conv adapters are flattened like conv kernels. The spectrum comes from the
factors (rmt_gui.spectral.low_rank), never from the dense product. Other 2-D tensors (modules
saved whole) are ordinary layers, named without the prefix.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.formats.hf_folder import read_json
from rmt_gui.model.formats.weight_file import WeightFile
from rmt_gui.model.layers import TensorMeta, dtype_name, layers_from_tensors
from rmt_gui.spectral.low_rank import low_rank_spectrum

if TYPE_CHECKING:
    from torch import nn

    from rmt_gui.spectral import Spectrum

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_model.bin")
PREFIX = "base_model.model."
LORA_KEY = re.compile(r"(?P<module>.+)\.lora_(?P<embedding>embedding_)?(?P<half>[AB])(?:\.weight)?")


@dataclass(frozen=True)
class LoraFactors:
    """One target module's stored factors and the update's scale."""

    a_key: str
    b_key: str
    embedding: bool
    scale: float


def _number(path: Path, config: dict[str, Any], key: str, default: float | None = None) -> float:
    """A positive number of the adapter config at ``path``, else a one-line FileError."""
    value = config.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise FileError(path, f"{key} must be a positive number, got {value!r}")
    return float(value)


def _pattern_value(patterns: object, module: str, default: float) -> float:
    """PEFT's per-module override: the value of the first pattern matching ``module``'s tail."""
    if not isinstance(patterns, dict):
        return default
    for key, value in patterns.items():
        try:
            hit = re.fullmatch(rf"(?:.*\.)?(?:{key})", module) is not None
        except re.error:
            hit = module == key or module.endswith(f".{key}")
        if hit and type(value) in (int, float) and value > 0:
            return float(value)
    return default


class LoraConfig:
    """The parts of ``adapter_config.json`` that fix each update's scale."""

    def __init__(self, path: Path) -> None:
        config = read_json(path)
        if not isinstance(config, dict):
            raise FileError(path, "not a JSON object of adapter settings")
        kind = config.get("peft_type", "LORA")
        if kind != "LORA":
            raise FileError(path, f"a {kind} adapter; only LoRA adapters are read")
        if config.get("use_dora"):
            raise FileError(path, "a DoRA adapter (use_dora): its update is not B·A alone")
        self.config = config
        self.base_model = config.get("base_model_name_or_path") or "an unnamed base model"
        self.rslora = bool(config.get("use_rslora"))
        self.r = _number(path, config, "r")
        self.alpha = _number(path, config, "lora_alpha", self.r)

    def rank_and_scale(self, module: str) -> tuple[int, float]:
        """``(r, scale)`` of ``module``: ``alpha / r``, or ``alpha / sqrt(r)`` with rslora."""
        r = _pattern_value(self.config.get("rank_pattern"), module, self.r)
        alpha = _pattern_value(self.config.get("alpha_pattern"), module, self.alpha)
        return int(r), alpha / (math.sqrt(r) if self.rslora else r)


def _pairs(metas: list[TensorMeta]) -> tuple[dict[str, dict[str, TensorMeta]], list[TensorMeta]]:
    """LoRA factors grouped by module (``{module: {"A": meta, "B": meta}}``) and other tensors."""
    pairs: dict[str, dict[str, TensorMeta]] = {}
    others = []
    for meta in metas:
        found = LORA_KEY.fullmatch(meta.name.removeprefix(PREFIX))
        if found is None:
            others.append(meta)
            continue
        half = ("E" if found["embedding"] else "") + found["half"]
        pairs.setdefault(found["module"], {})[half] = meta
    return pairs, others


class PeftAdapterCheckpoint(Checkpoint):
    """A LoRA adapter's updates, one layer per target module, read from their factors."""

    format = "peft-lora"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        weights = next((folder / n for n in ADAPTER_FILES if (folder / n).is_file()), None)
        if weights is None:
            raise FileError(folder, f"{ADAPTER_CONFIG} but no {' or '.join(ADAPTER_FILES)}")
        self.lora = LoraConfig(folder / ADAPTER_CONFIG)
        self._file = WeightFile(weights)
        pairs, others = _pairs(self._file.metas)
        if not pairs:
            raise FileError(weights, "no LoRA factors (lora_A / lora_B tensors) in this adapter")
        self.factors: dict[str, LoraFactors] = {}
        adapters = [
            self._adapter_layer(weights, module, halves) for module, halves in pairs.items()
        ]
        plain = layers_from_tensors(
            TensorMeta(m.name.removeprefix(PREFIX), m.shape, m.dtype) for m in others
        )
        self._stored = {m.name.removeprefix(PREFIX): m.name for m in others}
        self._layers = adapters + plain
        self.detail = (
            f"LoRA adapter of {self.lora.base_model}, r = {self.lora.r:g}, "
            f"alpha = {self.lora.alpha:g}{', rslora' if self.lora.rslora else ''}, "
            f"{len(adapters)} update{'' if len(adapters) == 1 else 's'}"
        )

    def _adapter_layer(
        self, weights: Path, module: str, halves: dict[str, TensorMeta]
    ) -> LayerInfo:
        """The layer of one target module, its factors checked against each other and the config."""
        embedding = "EA" in halves or "EB" in halves
        a, b = halves.get("EA" if embedding else "A"), halves.get("EB" if embedding else "B")
        if a is None or b is None:
            raise FileError(weights, f"{module}: lora_A and lora_B must both be stored")
        a_rows, a_cols = a.shape[0], math.prod(a.shape[1:])
        b_rows, b_cols = b.shape[0], math.prod(b.shape[1:])
        rank, scale = self.lora.rank_and_scale(module)
        if not a_rows == b_cols == rank:
            raise FileError(
                weights, f"{module}: lora_A is {'x'.join(map(str, a.shape))} and lora_B "
                f"{'x'.join(map(str, b.shape))}, which do not chain with rank r = {rank}"
            )  # fmt: skip
        self.factors[module] = LoraFactors(a.name, b.name, embedding, scale)
        shape = (a_cols, b_rows) if embedding else (b_rows, a_cols)
        return LayerInfo(
            name=module, shape=shape, params=a_rows * a_cols + b_rows * b_cols,
            dtype=dtype_name(a.dtype), adapter_rank=rank,
        )  # fmt: skip

    def layers(self) -> list[LayerInfo]:
        return list(self._layers)

    def _factors(self, module: str) -> tuple[np.ndarray, np.ndarray, float]:
        """``(B, A, scale)`` as 2-D float arrays with ``ΔW = scale · B · A`` ``(out, in)``."""
        factors = self.factors[module]
        a = self._file.array(factors.a_key)
        b = self._file.array(factors.b_key)
        a2, b2 = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        if factors.embedding:
            return a2.T, b2.T, factors.scale
        return b2, a2, factors.scale

    def low_rank_spectrum(self, name: str) -> Spectrum | None:
        """The update's spectrum from its factors in ``O((out + in) r²)``; ``None`` if plain."""
        if name not in self.factors:
            return None
        return low_rank_spectrum(*self._factors(name))

    def _read(self, name: str) -> np.ndarray:
        """The dense update (for plots and export) or a plain stored tensor."""
        if name not in self.factors:
            return self._file.array(self._stored[name])
        b, a, scale = self._factors(name)
        return (scale * (b.astype(np.float32) @ a.astype(np.float32))).astype(np.float32)

    def build_model(self) -> nn.Module:
        """A module tree of every layer's matrix (the dense updates under ``M.weight``)."""
        import torch

        from rmt_gui.model.tree import tree_from_state_dict

        return tree_from_state_dict({
            f"{info.name}.weight" if info.adapter_rank else info.name: torch.from_numpy(
                np.array(self.read(info.name))
            )
            for info in self._layers
        })  # fmt: skip
