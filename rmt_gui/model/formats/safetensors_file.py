"""``.safetensors`` files, read without torch: the header is parsed and checked, and each
tensor is a numpy memory map over its byte range, so a file larger than RAM lists at once and
its layers are read one at a time.

Format: 8-byte little-endian header length ``N``, ``N`` bytes of JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``, then the data;
offsets are relative to the end of the header.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.layers import TensorMeta, layers_from_tensors

if TYPE_CHECKING:
    from torch import nn

MAX_HEADER = 100 * 1024 * 1024
DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"), "I64": np.dtype("<i8"), "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}  # fmt: skip
ITEM_SIZES = {
    **{name: dtype.itemsize for name, dtype in DTYPES.items()},
    "F8_E4M3": 1, "F8_E4M3FNUZ": 1, "F8_E5M2": 1, "F8_E5M2FNUZ": 1, "F8_E8M0": 1,
    "U16": 2, "U32": 4, "U64": 8, "C64": 8,
}  # fmt: skip


def looks_like_safetensors(head: bytes, size: int) -> bool:
    """A plausible 8-byte header length followed by the start of a JSON object.

    A length beyond the file size still counts, so that the reader can say the header lies.
    """
    if len(head) < 9 or size < 10:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 2 <= length <= MAX_HEADER and head[8:9] == b"{"


def _is_int(value: object) -> bool:
    """A JSON integer (``bool`` is an ``int`` in Python, but not here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_entry(path: Path, name: str, entry: object, data_size: int) -> tuple[int, int]:
    """Validate one header entry and return its byte range."""
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        raise FileError(path, f"safetensors header entry {name!r} is malformed")
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise FileError(path, f"safetensors tensor {name!r} has an invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_int, offsets))):
        raise FileError(path, f"safetensors tensor {name!r} has invalid data offsets {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise FileError(
            path, f"safetensors header lies: tensor {name!r} spans bytes {begin}..{end} "
            f"but the file has {data_size} data bytes"
        )  # fmt: skip
    item = ITEM_SIZES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    if item is None:
        raise FileError(path, f"safetensors tensor {name!r} has unknown dtype {entry['dtype']!r}")
    needed = math.prod(shape) * item
    if end - begin != needed:
        raise FileError(
            path, f"safetensors header lies: tensor {name!r} of shape {shape} {entry['dtype']} "
            f"needs {needed} bytes, the header gives {end - begin}"
        )  # fmt: skip
    return begin, end


def _check_coverage(path: Path, ranges: list[tuple[int, int]], data_size: int) -> None:
    """Tensors must tile the data exactly: no overlap, no hole, nothing after the last one."""
    position = 0
    for begin, end in sorted(ranges):
        if begin < position:
            raise FileError(path, "safetensors header lies: tensors overlap")
        if begin > position:
            raise FileError(path, f"safetensors header lies: bytes {position}..{begin} unused")
        position = end
    if position != data_size:
        raise FileError(
            path, f"safetensors header lies: tensors end at byte {position} of {data_size}"
        )


def read_header(path: Path) -> tuple[dict[str, dict], dict[str, str], int]:
    """Parse and validate the header: ``(entries, metadata, data start)``."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        raw_len = handle.read(8)
        if len(raw_len) < 8:
            raise FileError(path, "truncated safetensors file (no header length)")
        (length,) = struct.unpack("<Q", raw_len)
        if length > min(MAX_HEADER, size - 8):
            raise FileError(
                path, f"safetensors header length {length} exceeds the file size ({size} bytes)"
            )
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise FileError(path, f"safetensors header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise FileError(path, "safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise FileError(path, "safetensors __metadata__ is not a JSON object")
    data_size = size - 8 - length
    ranges = [_check_entry(path, name, entry, data_size) for name, entry in header.items()]
    _check_coverage(path, ranges, data_size)
    return header, metadata, 8 + length


def _bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    """Widen raw bfloat16 bits (uint16) to float32."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


class SafetensorsCheckpoint(Checkpoint):
    """A safetensors file whose tensors are memory-mapped on demand."""

    format = "safetensors"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entries, self.metadata, self._start = read_header(path)
        self._layers = layers_from_tensors(
            TensorMeta(name, tuple(e["shape"]), e["dtype"]) for name, e in self.entries.items()
        )
        self.detail = f"{len(self.entries)} tensors, memory-mapped"

    def layers(self) -> list[LayerInfo]:
        return list(self._layers)

    def array(self, name: str) -> np.ndarray:
        """Tensor ``name`` as a numpy array (a memory map; bfloat16 widened to float32)."""
        entry = self.entries[name]
        dtype = DTYPES.get(entry["dtype"])
        if dtype is None:
            raise FileError(self.path, f"tensor {name!r} has unsupported dtype {entry['dtype']}")
        begin, _ = entry["data_offsets"]
        count = math.prod(entry["shape"])
        raw = np.memmap(
            self.path, dtype=dtype, mode="r", offset=self._start + begin, shape=(count,)
        ) if count else np.zeros(0, dtype)  # fmt: skip
        values = _bf16_to_f32(raw) if entry["dtype"] == "BF16" else raw
        return values.reshape(entry["shape"])

    def _read(self, name: str) -> np.ndarray:
        return self.array(name)

    def build_model(self) -> nn.Module:
        """Load every tensor into a module tree (copies, so the file can be closed)."""
        import torch

        from rmt_gui.model.tree import tree_from_state_dict

        tensors = {}
        for name, entry in self.entries.items():
            if entry["dtype"] in DTYPES:
                tensors[name] = torch.from_numpy(np.array(self.array(name)))
        return tree_from_state_dict(tensors)
