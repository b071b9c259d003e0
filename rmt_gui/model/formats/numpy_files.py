"""``.npy`` (one layer) and ``.npz`` (each 2-D array a layer, named by its key) files.

Nothing in the file is trusted: headers are parsed strictly and never unpickled, and declared
sizes are checked against the file and against free memory before any data is read. An
``.npz`` lists its layers from the member headers alone and inflates a member only when read.
"""

from __future__ import annotations

import lzma
import struct
import weakref
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from rmt_gui.errors import FileError, one_line
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.formats.npy_header import NpyFormatError, NpyHeader, read_npy_header
from rmt_gui.model.memory import human_bytes, require_memory

if TYPE_CHECKING:
    from torch import nn

READ_CHUNK = 16 * 1024 * 1024
MAX_MEMBERS = 10_000
MAX_NAME_SHOWN = 60
ENCRYPTED = 0x1
UTF8_NAME = 0x800
MAX_RATIO = 200  # real weights deflate < 2:1 (sparse ones ~10:1); a block of zeros ~1000:1
RATIO_GRACE = 64 * 1024 * 1024  # smaller members are cheap whatever their ratio
LOCAL_HEADER = 30  # bytes of a zip local file header before its name
ZIP_ERRORS = (
    zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError,
    RuntimeError, struct.error,
)  # fmt: skip


def _quoted(name: str) -> str:
    """``name`` quoted for a one-line message, cut short if long."""
    return repr(name if len(name) <= MAX_NAME_SHOWN else name[:MAX_NAME_SHOWN] + "…")


def _size(count: int) -> str:
    """Exact bytes when small, else human units (a header may declare absurd sizes)."""
    return f"{count} bytes" if count < 1_000_000 else human_bytes(count)


def _native(path: Path, label: str, array: np.ndarray) -> np.ndarray:
    """``array`` in native byte order, float128 narrowed to float64 (refused if values are lost)."""
    if not array.dtype.isnative:
        require_memory(path, label, array.nbytes)
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype.kind != "f" or array.dtype.itemsize <= 8:
        return array
    require_memory(path, label, array.size * 8)
    with np.errstate(over="ignore", invalid="ignore"):
        narrowed = array.astype(np.float64)
    if not np.isfinite(narrowed).all():
        raise FileError(
            path, f"{label} has float128 values that float64 cannot hold (NaN, inf or > 1.8e308)"
        )
    return narrowed


def _writable(path: Path, label: str, array: np.ndarray) -> np.ndarray:
    """``array`` itself if writable (torch then shares it), else a copy that fits in memory."""
    if array.flags.writeable:
        return array
    require_memory(path, label, array.nbytes)
    return np.array(array)


def _tree(arrays: dict[str, np.ndarray]) -> nn.Module:
    """A weights-only module over native, writable arrays (runnable if they chain 784 -> 10)."""
    import torch

    from rmt_gui.model.tree import tree_from_state_dict

    return tree_from_state_dict({key: torch.from_numpy(value) for key, value in arrays.items()})


def _layer_info(name: str, header: NpyHeader, bias: int = 0) -> LayerInfo:
    """The :class:`LayerInfo` of a matrix header, plus ``bias`` parameters."""
    rows, cols = header.shape
    dtype = header.numeric_dtype.newbyteorder("=").name
    return LayerInfo(name=name, shape=(rows, cols), params=rows * cols + bias, dtype=dtype)


def _npy_header(path: Path) -> NpyHeader:
    """The header of the ``.npy`` file ``path``, checked against the data the file holds."""
    try:
        with path.open("rb") as handle:
            header = read_npy_header(handle)
    except NpyFormatError as exc:
        raise FileError(path, f"not a valid .npy file: {exc}") from exc
    except OSError as exc:
        raise FileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if header.refusal is not None:
        raise FileError(path, header.refusal)
    if not header.is_matrix:
        raise FileError(path, f"expected a non-empty 2-D numeric array, got {header.describe()}")
    held = path.stat().st_size - header.offset
    if held < header.nbytes:
        raise FileError(
            path,
            f"truncated .npy file: its header declares {header.describe()} "
            f"({_size(header.nbytes)}) but only {_size(held)} follow",
        )
    return header


class NpyCheckpoint(Checkpoint):
    """A single ``.npy`` matrix, named after the file (also its key in :meth:`build_model`)."""

    format = "npy"

    def __init__(self, path: Path) -> None:
        super().__init__(path, "one array")
        header = _npy_header(self.path)
        self._info = _layer_info(self.path.stem, header)
        try:
            self._array = np.memmap(
                self.path, dtype=header.numeric_dtype, mode="r", offset=header.offset,
                shape=header.shape, order="F" if header.fortran_order else "C",
            )  # fmt: skip
        except (OSError, ValueError) as exc:
            raise FileError(self.path, f"cannot be memory-mapped ({one_line(exc)})") from exc

    def layers(self) -> list[LayerInfo]:
        return [self._info]

    def _read(self, name: str) -> np.ndarray:
        label = f"layer {_quoted(name)}"
        require_memory(self.path, label, self._array.nbytes)  # every reader will page it all in
        return _native(self.path, label, np.asarray(self._array))

    def build_model(self) -> nn.Module:
        label = f"layer {_quoted(self._info.name)}"
        return _tree({self._info.name: _writable(self.path, label, self._read(self._info.name))})


@dataclass(frozen=True)
class _Member:
    """One ``.npy`` member of an archive: its zip entry and its parsed header."""

    info: zipfile.ZipInfo
    header: NpyHeader


def _member_label(info: zipfile.ZipInfo) -> str:
    """How messages name a member."""
    return f"member {_quoted(info.filename)}"


def _open_zip(path: Path) -> zipfile.ZipFile:
    """The archive at ``path`` with its central directory read."""
    try:
        return zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        raise FileError(path, f"truncated or corrupt .npz archive ({one_line(exc)})") from exc


def _member_key(path: Path, info: zipfile.ZipInfo) -> str:
    """The array name of a usable entry (``w.npy`` -> ``w``); anything else is refused."""
    label = _member_label(info)
    if not info.filename.isprintable():
        raise FileError(path, f"{label} has control characters in its name")
    if not info.filename.endswith(".npy"):
        raise FileError(path, f"{label} is not a .npy array")
    if info.flag_bits & ENCRYPTED:
        raise FileError(path, f"{label} is encrypted")
    return info.filename.removesuffix(".npy")


def _member_header(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> NpyHeader:
    """The header of one member (only its first bytes are inflated), checked against its size."""
    label = _member_label(info)
    try:
        with archive.open(info) as stream:
            header = read_npy_header(stream)
    except NpyFormatError as exc:
        raise FileError(path, f"{label} is not a valid .npy array: {exc}") from exc
    except NotImplementedError as exc:
        raise FileError(path, f"{label} uses a compression method that cannot be read") from exc
    except ZIP_ERRORS as exc:
        raise FileError(path, f"{label} is corrupt ({one_line(exc)})") from exc
    declared = header.offset + header.nbytes
    if header.dtype is not None and info.file_size != declared:
        held, wanted = _size(info.file_size), _size(declared)
        if held == wanted:
            held, wanted = f"{info.file_size:,} bytes", f"{declared:,} bytes"
        raise FileError(
            path, f"{label} holds {held} but its header declares {header.describe()} ({wanted})"
        )
    return header


def _name_size(info: zipfile.ZipInfo) -> int:
    """Bytes of the member's name as stored (UTF-8 when flagged, else cp437)."""
    return len(info.orig_filename.encode("utf-8" if info.flag_bits & UTF8_NAME else "cp437"))


def _check_no_overlap(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse members whose bytes overlap: a zip bomb reuses one compressed block many times."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    limits = [info.header_offset for info in ordered[1:]] + [path.stat().st_size]
    for info, limit in zip(ordered, limits, strict=False):
        if info.header_offset + LOCAL_HEADER + _name_size(info) + info.compress_size > limit:
            raise FileError(path, f"{_member_label(info)} overlaps the next one (a zip bomb)")


def _read_members(path: Path, archive: zipfile.ZipFile) -> dict[str, _Member]:
    """Every member by array name, from the headers alone; a bad or duplicate entry is refused."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise FileError(path, f"has {len(infos)} members, more than the {MAX_MEMBERS} allowed")
    _check_no_overlap(path, infos)
    members: dict[str, _Member] = {}
    for info in infos:
        key = _member_key(path, info)
        if key in members:
            raise FileError(path, f"has two members named {_quoted(info.filename)}")
        members[key] = _Member(info, _member_header(path, archive, info))
    return members


def _check_ratio(path: Path, label: str, info: zipfile.ZipInfo) -> None:
    """Refuse a large member packed far tighter than weights ever are: a zip bomb of zeros."""
    packed = max(info.compress_size, 1)
    if info.file_size > RATIO_GRACE and info.file_size > MAX_RATIO * packed:
        raise FileError(
            path,
            f"{label} would inflate {info.file_size // packed}-fold ({_size(packed)} to "
            f"{_size(info.file_size)}): refused as a zip bomb",
        )


def _inflate(path: Path, archive: zipfile.ZipFile, member: _Member, label: str) -> np.ndarray:
    """Inflate one member's data into a fresh native array, refusing first what cannot fit."""
    header = member.header
    require_memory(path, label, header.nbytes)
    _check_ratio(path, label, member.info)
    flat = np.empty(header.count, dtype=header.numeric_dtype.newbyteorder("="))
    raw, filled = flat.view(np.uint8), 0
    try:
        # typeshed types ZipFile.open as IO[bytes]; for reading it returns a ZipExtFile
        with cast("zipfile.ZipExtFile", archive.open(member.info)) as stream:
            stream.read(header.offset)
            while filled < raw.size:
                got = stream.readinto(raw.data[filled : filled + READ_CHUNK])
                if not got:
                    raise EOFError("the data ends early")
                filled += got
            stream.read(1)  # reaching the end checks the CRC
    except ZIP_ERRORS as exc:
        raise FileError(path, f"{label} is corrupt ({one_line(exc)})") from exc
    if not header.numeric_dtype.isnative:
        flat.byteswap(inplace=True)
    return flat.reshape(header.shape, order="F" if header.fortran_order else "C")


class NpzCheckpoint(Checkpoint):
    """An ``.npz`` archive; its non-empty 2-D numeric arrays are the layers, in archive order."""

    format = "npz"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._archive = _open_zip(self.path)
        try:
            self._members = _read_members(self.path, self._archive)
        except FileError:
            self._archive.close()
            raise
        weakref.finalize(self, self._archive.close)
        self._layers = [
            _layer_info(key, member.header, self._bias_size(key, member.header.shape[0]))
            for key, member in self._members.items()
            if member.header.is_matrix
        ]
        if not self._layers:
            raise FileError(self.path, self._why_no_layers())
        skipped = len(self._members) - len(self._layers)
        self.detail = f"{len(self._layers)} 2-D arrays" + (
            f", {skipped} other arrays skipped" if skipped else ""
        )

    def _why_no_layers(self) -> str:
        """Say there is no layer, and why the first refused array was refused."""
        refused = [m for m in self._members.values() if m.header.refusal is not None]
        reason = (
            f" ({_member_label(refused[0].info)}: {refused[0].header.refusal})" if refused else ""
        )
        return f"no non-empty 2-D numeric arrays in this .npz archive{reason}"

    def _bias_size(self, key: str, rows: int) -> int:
        """Entries of the 1-D bias ``P.bias`` that goes with weight ``P.weight``, else 0."""
        bias = self._members.get(key.removesuffix("weight") + "bias")
        if not key.endswith("weight") or bias is None:
            return 0
        return rows if bias.header.shape == (rows,) else 0

    def layers(self) -> list[LayerInfo]:
        return list(self._layers)

    def _read(self, name: str) -> np.ndarray:
        label = f"layer {_quoted(name)}"
        return _native(
            self.path, label, _inflate(self.path, self._archive, self._members[name], label)
        )

    def build_model(self) -> nn.Module:
        numeric = [key for key, member in self._members.items() if member.header.is_numeric]
        total = sum(self._members[key].header.nbytes for key in numeric)
        require_memory(self.path, "the model", total)
        return _tree({key: self._read(key) for key in numeric})
