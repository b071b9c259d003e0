"""A Hugging Face model folder as one checkpoint: ``config.json`` beside the weights.

Weights are one of, in this order of preference: ``model.safetensors.index.json`` with its
shards ``model-0000N-of-0000M.safetensors``, ``model.safetensors``,
``pytorch_model.bin.index.json`` with its ``.bin`` shards, or ``pytorch_model.bin``. An index is
``{"metadata": {...}, "weight_map": {tensor name: shard file}}``: tensor names and their order
come from it, and every shard it names must exist and hold the tensors it lists. Shards are
read lazily, one at a time (only the shard of the layer being read is mapped or loaded), so
analysing a folder takes about the largest shard plus one layer's working set in memory.
``.bin`` files are loaded with ``weights_only=True``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rmt_gui.errors import FileError, one_line
from rmt_gui.model.checkpoint import Architecture, Checkpoint, LayerInfo
from rmt_gui.model.formats.weight_file import WeightFile
from rmt_gui.model.layers import TensorMeta, layers_from_tensors

if TYPE_CHECKING:
    from torch import nn

CONFIG = "config.json"
WEIGHT_CHOICES = (
    ("model.safetensors.index.json", True),
    ("model.safetensors", False),
    ("pytorch_model.bin.index.json", True),
    ("pytorch_model.bin", False),
)
"""``(file name, is an index)`` of a folder's weights, most preferred first."""
MAX_JSON_BYTES = 64 * 1024 * 1024
"""An index of 300,000 tensors is about 20 MB; anything far larger is not a model's JSON."""
HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model", "dim")
LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")


def read_json(path: Path) -> Any:
    """Parse a small JSON file of a model folder; unreadable or invalid JSON is a FileError."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise FileError(path, f"over {MAX_JSON_BYTES >> 20} MB, too large for a model's JSON")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileError(path, f"cannot be read ({exc.strerror or one_line(exc)})") from exc
    except UnicodeDecodeError as exc:
        raise FileError(path, "not UTF-8 text") from exc
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FileError(path, f"not valid JSON ({one_line(exc)})") from exc


def _first_int(config: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    """The first of ``keys`` whose value is an integer (``bool`` excluded), else ``None``."""
    return next((config[k] for k in keys if type(config.get(k)) is int), None)


def architecture_of(path: Path) -> Architecture | None:
    """Model type, hidden size and layer count from ``config.json`` (``None`` without one)."""
    if not path.is_file():
        return None
    config = read_json(path)
    if not isinstance(config, dict):
        raise FileError(path, "not a JSON object of model settings")
    model_type = config.get("model_type")
    return Architecture(
        model_type=model_type if isinstance(model_type, str) else None,
        hidden_size=_first_int(config, HIDDEN_KEYS),
        layers=_first_int(config, LAYER_KEYS),
    )


def _plain_name(index: Path, shard: object) -> str:
    """A shard file name from an index: a plain name of a file beside the index, nothing else."""
    if not isinstance(shard, str) or not shard or shard in {".", ".."} or Path(shard).name != shard:
        raise FileError(index, f"shard {shard!r} is not the name of a file in this folder")
    return shard


def read_index(index: Path) -> dict[str, str]:
    """The ``weight_map`` of an index, ``{tensor name: shard file}`` in the index's order."""
    document = read_json(index)
    weight_map = document.get("weight_map") if isinstance(document, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise FileError(index, 'no "weight_map" of tensor names to shard files')
    return {str(name): _plain_name(index, shard) for name, shard in weight_map.items()}


def weights_of(folder: Path) -> tuple[Path, dict[str, str] | None] | None:
    """The folder's weights file (an index or a single file) and, for an index, its map."""
    for name, is_index in WEIGHT_CHOICES:
        path = folder / name
        if path.is_file():
            return path, read_index(path) if is_index else None
    return None


def _check_shard(shard: WeightFile, wanted: list[str]) -> None:
    """Refuse a shard that lacks tensors its index assigns to it, naming the first few."""
    missing = [name for name in wanted if name not in shard.names]
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise FileError(shard.path, f"the index lists {shown} in this shard, but it lacks them")


class HFFolderCheckpoint(Checkpoint):
    """A model folder's tensors across its shards, named and ordered as its index lists them."""

    format = "hf-folder"

    def __init__(self, folder: Path, weights: Path, weight_map: dict[str, str] | None) -> None:
        super().__init__(folder)
        self.architecture = architecture_of(folder / CONFIG)
        single = weight_map is None
        files = [weights.name] if weight_map is None else list(dict.fromkeys(weight_map.values()))
        self._files = {name: WeightFile(folder / name) for name in files}
        if weight_map is None:
            weight_map = {meta.name: weights.name for meta in self._files[weights.name].metas}
        self._where = weight_map
        self._layers = layers_from_tensors(self._metas())
        self._current: WeightFile | None = None
        for shard in self._files.values():
            shard.release()
        self.detail = self._describe(weights, single)

    def _metas(self) -> list[TensorMeta]:
        """Every tensor's metadata in index order, each shard checked against the index."""
        by_shard: dict[str, list[str]] = {}
        for name, file_name in self._where.items():
            by_shard.setdefault(file_name, []).append(name)
        metas: dict[str, TensorMeta] = {}
        for shard_name, names in by_shard.items():
            shard = self._files[shard_name]
            _check_shard(shard, names)
            wanted = set(names)
            metas.update((meta.name, meta) for meta in shard.metas if meta.name in wanted)
        return [metas[name] for name in self._where]

    def _describe(self, weights: Path, single: bool) -> str:
        """``bert, hidden 384, 6 layers; 3 shards (model.safetensors.index.json), 101 tensors``."""
        head = self.architecture.describe() if self.architecture else "no config.json"
        source = weights.name if single else f"{len(self._files)} shards ({weights.name})"
        return f"{head}; {source}, {len(self._where)} tensors"

    @property
    def shards(self) -> list[WeightFile]:
        """The folder's weight files, in index order."""
        return list(self._files.values())

    def layers(self) -> list[LayerInfo]:
        return list(self._layers)

    def _shard(self, name: str) -> WeightFile:
        """The shard holding tensor ``name``, the only one kept open (the previous released)."""
        shard = self._files[self._where[name]]
        if self._current is not shard:
            if self._current is not None:
                self._current.release()
            self._current = shard
        return shard

    def _read(self, name: str) -> np.ndarray:
        return self._shard(name).array(name)

    def build_model(self) -> nn.Module:
        """Every tensor the index lists, from each shard in turn, in one module tree."""
        from rmt_gui.model.tree import check_tensor_count, tree_from_state_dict

        check_tensor_count(len(self._where))
        tensors = {}
        for shard in self._files.values():
            tensors.update(shard.torch_tensors())
            shard.release()
        self._current = None
        return tree_from_state_dict(
            {name: tensors[name] for name in self._where if name in tensors}
        )
