"""``.npy`` (one layer) and ``.npz`` (each 2-D array a layer, named by its key) files."""

from __future__ import annotations

import weakref
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo

if TYPE_CHECKING:
    from torch import nn


def _layer_info(name: str, array: np.ndarray, bias: int = 0) -> LayerInfo | None:
    """A :class:`LayerInfo` for a non-empty 2-D real array plus ``bias`` entries, else ``None``."""
    if array.ndim != 2 or array.size == 0:
        return None
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        return None
    shape = (int(array.shape[0]), int(array.shape[1]))
    return LayerInfo(name=name, shape=shape, params=array.size + bias, dtype=str(array.dtype))


def _bias_size(archive: np.lib.npyio.NpzFile, name: str, rows: int) -> int:
    """Entries of the 1-D bias ``P.bias`` that goes with weight ``P.weight``, else 0."""
    key = name.removesuffix("weight") + "bias"
    if not name.endswith("weight") or key not in archive.files:
        return 0
    return rows if archive[key].shape == (rows,) else 0


def _tree(arrays: dict[str, np.ndarray]) -> nn.Module:
    """A weights-only module over numeric arrays (runnable if they chain 784 -> 10)."""
    import torch

    from rmt_gui.model.tree import tree_from_state_dict

    numeric = {
        key: torch.from_numpy(np.array(value))
        for key, value in arrays.items()
        if np.issubdtype(value.dtype, np.number) and value.size
    }
    return tree_from_state_dict(numeric)


def _load_npy(path: Path) -> np.ndarray:
    """Memory-map one ``.npy`` array after checking its header; never unpickles."""
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(handle)
            offset = handle.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise FileError(path, f"not a readable .npy array ({exc})") from exc
    if dtype.hasobject:
        raise FileError(path, "holds pickled Python objects, not a numeric array")
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    actual = path.stat().st_size
    if actual < expected:
        raise FileError(path, f"truncated .npy file: needs {expected} bytes, has {actual}")
    return np.load(path, mmap_mode="r", allow_pickle=False)


class NpyCheckpoint(Checkpoint):
    """A single ``.npy`` matrix, named after the file (also its key in :meth:`build_model`)."""

    format = "npy"

    def __init__(self, path: Path) -> None:
        super().__init__(path, "one array")
        self._array = _load_npy(path)
        info = _layer_info(path.stem, self._array)
        if info is None:
            raise FileError(
                path,
                f"expected a non-empty 2-D numeric array, got shape {self._array.shape} "
                f"of {self._array.dtype}",
            )
        self._info = info

    def layers(self) -> list[LayerInfo]:
        return [self._info]

    def _read(self, name: str) -> np.ndarray:
        return np.asarray(self._array)

    def build_model(self) -> nn.Module:
        return _tree({self._info.name: self._array})


class NpzCheckpoint(Checkpoint):
    """An ``.npz`` archive; its non-empty 2-D numeric arrays are the layers, in archive order."""

    format = "npz"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            self._archive = np.load(path, allow_pickle=False)
            weakref.finalize(self, self._archive.close)  # the archive is a cycle: close it
            self._layers = [
                info for key in self._archive.files if (info := self._info(key)) is not None
            ]
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise FileError(path, f"truncated or corrupt .npz archive ({exc})") from exc
        except ValueError as exc:
            raise FileError(path, f"holds an unreadable array ({exc})") from exc
        skipped = len(self._archive.files) - len(self._layers)
        if not self._layers:
            raise FileError(path, "no non-empty 2-D numeric arrays in this .npz archive")
        self.detail = f"{len(self._layers)} 2-D arrays" + (
            f", {skipped} other arrays skipped" if skipped else ""
        )

    def _info(self, key: str) -> LayerInfo | None:
        """The layer stored under ``key`` (its bias counted), else ``None``."""
        array = self._archive[key]
        bias = _bias_size(self._archive, key, array.shape[0]) if array.ndim == 2 else 0
        return _layer_info(key, array, bias)

    def layers(self) -> list[LayerInfo]:
        return list(self._layers)

    def _read(self, name: str) -> np.ndarray:
        return self._archive[name]

    def build_model(self) -> nn.Module:
        return _tree({key: self._archive[key] for key in self._archive.files})
