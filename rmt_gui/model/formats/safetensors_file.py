"""``.safetensors`` files, read without torch: the header is parsed and checked, and each
tensor is a numpy view of its byte range in one memory map of the file, so a file larger than
RAM lists at once and its layers are read one at a time.

Format: 8-byte little-endian header length ``N``, ``N`` bytes of JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``, then the data;
offsets are relative to the end of the header.
"""

from __future__ import annotations

import gc
import json
import math
import mmap
import reprlib
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rmt_gui.errors import FileError, one_line
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.layers import TensorMeta, layers_from_tensors

if TYPE_CHECKING:
    from torch import nn

MAX_HEADER = 100 * 1024 * 1024
MAX_TENSORS = 300_000  # real files hold thousands; millions of empty entries only cost time
MAX_CONTAINERS = 3 * MAX_TENSORS + 1000  # per tensor: its entry, shape and offsets
MAX_BYTES = 2**64  # no file is larger
MAX_DIMS = 64  # numpy's limit on an array's dimensions
ENTRY_KEYS = {"dtype", "shape", "data_offsets"}
DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"), "I64": np.dtype("<i8"), "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}  # fmt: skip
ITEM_SIZES = {
    **{name: dtype.itemsize for name, dtype in DTYPES.items()},
    "F8_E4M3": 1, "F8_E4M3FNUZ": 1, "F8_E5M2": 1, "F8_E5M2FNUZ": 1, "F8_E8M0": 1,
    "U16": 2, "U32": 4, "U64": 8, "C64": 8,
}  # fmt: skip
BRIEF = reprlib.Repr()
BRIEF.maxstring, BRIEF.maxlong, BRIEF.maxother, BRIEF.maxlist, BRIEF.maxlevel = 50, 24, 50, 4, 2


def looks_like_safetensors(head: bytes, size: int) -> bool:
    """A plausible 8-byte header length followed by the start of a JSON object.

    A length beyond the file size or the limit still counts, so that the reader can say the
    header lies.
    """
    if len(head) < 9 or size < 10:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return length >= 2 and head[8:9] == b"{"


def _ints(values: list) -> bool:
    """All JSON integers (``bool`` subclasses ``int`` in Python, but its type is not ``int``)."""
    return all(type(value) is int for value in values)


def _brief(value: object) -> str:
    """A short ``repr`` for messages: a header's names, numbers and lists may be huge or deep."""
    return BRIEF.repr(value)


class _DuplicateKeyError(ValueError):
    """The same key twice in one JSON object: which of the two is meant is unknowable."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object as a dict, refusing a repeated key instead of keeping the last one."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return result


def _parse(path: Path, raw: bytes) -> object:
    """The header's JSON value; anything that is not UTF-8 JSON is a corrupt header."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError(
            path, f"corrupt safetensors header (not UTF-8 text at byte {8 + exc.start})"
        ) from exc
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKeyError as exc:
        raise FileError(
            path, f"corrupt safetensors header (key {_brief(exc.args[0])} appears twice)"
        ) from exc
    except RecursionError as exc:
        raise FileError(path, "corrupt safetensors header (JSON nested too deeply)") from exc
    except json.JSONDecodeError as exc:
        raise FileError(
            path, f"corrupt safetensors header: not valid JSON ({exc.msg} at byte {8 + exc.pos})"
        ) from exc
    except ValueError as exc:  # e.g. an integer longer than Python's 4300-digit limit
        raise FileError(
            path, f"corrupt safetensors header ({one_line(exc).split(';')[0]})"
        ) from exc


def _byte_count(shape: list[int], item: int) -> int | None:
    """Bytes a tensor of ``shape`` needs, or ``None`` beyond :data:`MAX_BYTES`.

    The product stops growing past the limit, so a shape of huge dimensions costs nothing.
    """
    if 0 in shape:
        return 0
    count = item
    for dim in shape:
        count *= dim
        if count > MAX_BYTES:
            return None
    return count


def _check_name(path: Path, name: str) -> None:
    """A tensor name must be real text: JSON escapes can spell lone surrogates, UTF-8 cannot."""
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise FileError(
                path, f"safetensors tensor name {_brief(name)} is not valid Unicode text"
            ) from exc


def _check_entry(path: Path, name: str, entry: object, data_size: int) -> tuple[int, int]:
    """Validate one header entry and return its byte range."""
    _check_name(path, name)
    if not isinstance(entry, dict) or not entry.keys() >= ENTRY_KEYS:
        raise FileError(path, f"safetensors header entry {_brief(name)} is malformed")
    shape, offsets, dtype = entry["shape"], entry["data_offsets"], entry["dtype"]
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMS
        or not _ints(shape)
        or min(shape, default=0) < 0
    ):
        raise FileError(
            path, f"safetensors tensor {_brief(name)} has an invalid shape {_brief(shape)}"
        )
    if not (isinstance(offsets, list) and len(offsets) == 2 and _ints(offsets)):
        raise FileError(
            path, f"safetensors tensor {_brief(name)} has invalid data offsets {_brief(offsets)}"
        )
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise FileError(
            path, f"safetensors header lies: tensor {_brief(name)} spans bytes "
            f"{_brief(begin)}..{_brief(end)} but the file has {data_size} data bytes"
        )  # fmt: skip
    item = ITEM_SIZES.get(dtype) if isinstance(dtype, str) else None
    if item is None:
        raise FileError(
            path, f"safetensors tensor {_brief(name)} has unknown dtype {_brief(dtype)}"
        )
    needed = _byte_count(shape, item)
    if needed != end - begin:
        needs = "more bytes than any file can hold" if needed is None else f"{needed} bytes"
        raise FileError(
            path, f"safetensors header lies: tensor {_brief(name)} of shape {_brief(shape)} "
            f"{dtype} needs {needs}, the header gives {end - begin}"
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


def _check_metadata(path: Path, metadata: object) -> dict[str, str]:
    """``__metadata__`` is optional; when present it maps text to text, as the format says."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise FileError(path, "safetensors __metadata__ is not a JSON object of strings")
    return metadata


def _raw_header(path: Path) -> tuple[bytes, int]:
    """The header's bytes and the file's size, once the header length is known to fit."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        raw_len = handle.read(8)
        if len(raw_len) < 8:
            raise FileError(path, "truncated safetensors file (no header length)")
        (length,) = struct.unpack("<Q", raw_len)
        if length > size - 8:
            raise FileError(
                path, f"safetensors header length {length} exceeds the file size ({size} bytes)"
            )
        if length > MAX_HEADER:
            raise FileError(
                path, f"safetensors header of {length} bytes is over the {MAX_HEADER} allowed"
            )
        raw = handle.read(length)
    if len(raw) != length:
        raise FileError(path, f"truncated safetensors file (header of {length} bytes)")
    return raw, size


def _check_extent(path: Path, raw: bytes) -> None:
    """Refuse, before parsing, a header with more JSON objects and lists than tensors need.

    Each tensor needs three; building millions of them is what makes a large header slow.
    """
    containers = raw.count(b"{") + raw.count(b"[")
    if containers > MAX_CONTAINERS:
        raise FileError(
            path, f"safetensors header holds {containers} JSON objects and lists, "
            f"over the {MAX_CONTAINERS} allowed"
        )  # fmt: skip


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a header is indexed.

    Its objects cannot form cycles, yet their number keeps triggering collections that rescan
    them all: almost half the time of opening a file of 200,000 tensors.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_header(path: Path) -> tuple[dict[str, dict], dict[str, str], int]:
    """Parse and validate the header: ``(entries, metadata, data start)``."""
    raw, size = _raw_header(path)
    _check_extent(path, raw)
    header = _parse(path, raw)
    if not isinstance(header, dict):
        raise FileError(path, "safetensors header is not a JSON object")
    if len(header) > MAX_TENSORS:
        raise FileError(
            path, f"safetensors header lists {len(header)} tensors, over the {MAX_TENSORS} allowed"
        )
    metadata = _check_metadata(path, header.pop("__metadata__", None))
    data_size = size - 8 - len(raw)
    ranges = [_check_entry(path, name, entry, data_size) for name, entry in header.items()]
    _check_coverage(path, ranges, data_size)
    return header, metadata, 8 + len(raw)


def _bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    """Widen raw bfloat16 bits (uint16) to float32."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


class SafetensorsCheckpoint(Checkpoint):
    """A safetensors file whose tensors are memory-mapped on demand."""

    format = "safetensors"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        with _cyclic_gc_paused():
            self.entries, self.metadata, self._start = read_header(path)
            self._size = self._start + max(
                (end for _, end in (e["data_offsets"] for e in self.entries.values())), default=0
            )
            self._layers = layers_from_tensors(
                TensorMeta(name, tuple(e["shape"]), e["dtype"]) for name, e in self.entries.items()
            )
        self.detail = f"{len(self.entries)} tensors, memory-mapped"

    def layers(self) -> list[LayerInfo]:
        return list(self._layers)

    @cached_property
    def _map(self) -> mmap.mmap:
        """One read-only memory map of the whole file, shared by every tensor read from it.

        A file that changed size since its header was read is refused: its offsets are stale.
        """
        try:
            with self.path.open("rb") as handle:
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise FileError(self.path, f"cannot map the file ({one_line(exc)})") from exc
        if len(mapped) != self._size:
            raise FileError(self.path, "the file changed size since it was opened")
        return mapped

    def array(self, name: str) -> np.ndarray:
        """Tensor ``name`` as a numpy view of the file's map (bfloat16 widened to float32)."""
        entry = self.entries[name]
        dtype = DTYPES.get(entry["dtype"])
        if dtype is None:
            raise FileError(self.path, f"tensor {name!r} has unsupported dtype {entry['dtype']}")
        begin, _ = entry["data_offsets"]
        count = math.prod(entry["shape"])
        raw = np.frombuffer(
            self._map, dtype=dtype, count=count, offset=self._start + begin
        ) if count else np.zeros(0, dtype)  # fmt: skip
        values = _bf16_to_f32(raw) if entry["dtype"] == "BF16" else raw
        return values.reshape(entry["shape"])

    def _read(self, name: str) -> np.ndarray:
        return self.array(name)

    def build_model(self) -> nn.Module:
        """Load every tensor into a module tree (copies, so the file can be closed)."""
        import torch

        from rmt_gui.model.tree import check_tensor_count, tree_from_state_dict

        check_tensor_count(len(self.entries))
        tensors = {}
        for name, entry in self.entries.items():
            if entry["dtype"] in DTYPES:
                tensors[name] = torch.from_numpy(np.array(self.array(name)))
        return tree_from_state_dict(tensors)
