"""Hostile ``.npy`` / ``.npz`` files written byte by byte: lying headers, broken zips, zip bombs."""

from __future__ import annotations

import io
import math
import pickle
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np

NPY_MAGIC = b"\x93NUMPY"
ZIP_LOCAL = b"PK\x03\x04"
ZIP_CENTRAL = b"PK\x01\x02"
BOMB_CHUNK = 4 * 1024 * 1024


def array_bytes(array: np.ndarray) -> bytes:
    """``np.save`` of ``array`` (object arrays pickled), as bytes."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def header_text(descr: object, shape: object, fortran_order: object = False) -> str:
    """A header dict literal in numpy's own layout, with any (possibly absurd) values."""
    return f"{{'descr': {descr!r}, 'fortran_order': {fortran_order!r}, 'shape': {shape!r}, }}"


def npy_bytes(header: str | bytes, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    """A ``.npy`` file whose header is ``header`` verbatim (any garbage), then ``data``."""
    text = header.encode("latin-1") if isinstance(header, str) else header
    text += b"\n"
    length = struct.pack("<H" if version == (1, 0) else "<I", len(text))
    return NPY_MAGIC + bytes(version) + length + text + data


def pickle_payload_npy(marker: Path, shape: tuple[int, ...] = (2, 2)) -> bytes:
    """An object-dtype ``.npy`` whose data, if ever unpickled, would create ``marker``."""
    payload = pickle.dumps(_Touch(marker), protocol=2)
    return npy_bytes(header_text("|O", shape), payload)


class _Touch:
    """Unpickling this runs ``open(marker, 'w')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def write_npz(
    path: Path,
    members: list[tuple[str, bytes]],
    method: int = zipfile.ZIP_DEFLATED,
    file_size: int | None = None,
) -> Path:
    """An archive of raw members (duplicate names allowed); ``file_size`` makes the last one lie."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", method) as archive:
            for name, data in members:
                archive.writestr(name, data)
            if file_size is not None:
                archive.filelist[-1].file_size = file_size
    return path


def replace_bytes(path: Path, old: bytes, new: bytes) -> Path:
    """Replace every occurrence of ``old`` in the file (which must hold it) by ``new``."""
    data = path.read_bytes()
    assert old in data, f"{old!r} not in {path}"
    path.write_bytes(data.replace(old, new))
    return path


def patch_entries(path: Path, offset_local: int, offset_central: int, value: bytes) -> Path:
    """Overwrite the same field of every local and central zip header (e.g. flags, method)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((ZIP_LOCAL, offset_local), (ZIP_CENTRAL, offset_central)):
        start = data.find(signature)
        while start != -1:
            data[start + offset : start + offset + len(value)] = value
            start = data.find(signature, start + 1)
    path.write_bytes(bytes(data))
    return path


def set_encrypted_flag(path: Path) -> Path:
    """Mark every entry as encrypted (general purpose flag bit 0)."""
    return patch_entries(path, 6, 8, struct.pack("<H", 1))


def set_method(path: Path, method: int) -> Path:
    """Claim every entry uses compression ``method`` (e.g. 99, AES, which zipfile lacks)."""
    return patch_entries(path, 8, 10, struct.pack("<H", method))


def zip_bomb(path: Path, shape: tuple[int, int], name: str = "w.npy") -> Path:
    """An honest ``.npz`` of float64 zeros of ``shape``, deflated chunk by chunk (never in RAM)."""
    zeros = bytes(BOMB_CHUNK)
    left = math.prod(shape) * 8
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(name, "w", force_zip64=True) as stream,
    ):
        stream.write(npy_bytes(header_text("<f8", shape)))
        while left:
            stream.write(zeros[: min(left, BOMB_CHUNK)])
            left -= min(left, BOMB_CHUNK)
    return path


def lying_npz(path: Path, shape: tuple[int, ...], name: str = "w.npy") -> Path:
    """A stored member whose header and zip entry agree on float64 ``shape``, but with no data."""
    member = npy_bytes(header_text("<f8", shape))
    declared = len(member) + 8 * math.prod(shape)
    return write_npz(path, [(name, member)], zipfile.ZIP_STORED, file_size=declared)
