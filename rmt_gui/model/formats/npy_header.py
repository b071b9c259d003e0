"""A strict ``.npy`` header reader: every malformed header is a one-line :class:`NpyFormatError`.

Format: ``\\x93NUMPY``, a version byte pair (1.0, 2.0 or 3.0), the header length (2 bytes
little-endian for 1.0, else 4), then a Python dict literal ``{'descr', 'fortran_order', 'shape'}``.
Only the header is read; the data is not touched, so a header declaring terabytes costs nothing.
"""

from __future__ import annotations

import ast
import math
import re
import struct
from dataclasses import dataclass
from typing import IO

import numpy as np

MAGIC = b"\x93NUMPY"
LENGTH_FORMATS = {(1, 0): "<H", (2, 0): "<I", (3, 0): "<I"}
MAX_HEADER = 10_000  # numpy's own default limit
MAX_DIMS = 64
KEYS = {"descr", "fortran_order", "shape"}
DESCR = re.compile(r"[<>|=]?([A-Za-z])(\d{0,8})(\[\w{1,8}\])?")
NUMBER_KINDS = "biuf"
REFUSED_KINDS = {
    "c": "complex weights are not supported",
    "O": "holds pickled Python objects, which are never loaded",
    "S": "holds text, not numbers",
    "a": "holds text, not numbers",
    "U": "holds text, not numbers",
    "V": "holds raw bytes (void dtype), not numbers",
    "M": "holds dates, not numbers",
    "m": "holds time spans, not numbers",
}
STRUCTURED = "holds a structured array (named fields), not a plain matrix"


class NpyFormatError(ValueError):
    """The bytes are not a valid ``.npy`` header; the message says why in plain words."""


@dataclass(frozen=True)
class NpyHeader:
    """A parsed header; ``dtype`` is ``None`` for data that is not numbers, ``refusal`` says why."""

    shape: tuple[int, ...]
    fortran_order: bool
    descr: str
    dtype: np.dtype | None
    refusal: str | None
    offset: int

    @property
    def count(self) -> int:
        """Number of elements (exact, however large the shape)."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of data the header declares (0 for a refused dtype: it is never read)."""
        return self.count * self.dtype.itemsize if self.dtype is not None else 0

    @property
    def numeric_dtype(self) -> np.dtype:
        """``dtype`` of a header whose data is read; a refused one (``dtype`` None) never is."""
        if self.dtype is None:
            raise ValueError(f"the data {self.refusal}: it is not read")
        return self.dtype

    @property
    def is_numeric(self) -> bool:
        """Non-empty integers or floats (bool is not a weight): what a model may hold."""
        return self.count > 0 and self.dtype is not None and self.dtype.kind in "iuf"

    @property
    def is_matrix(self) -> bool:
        """A non-empty 2-D numeric array: a layer."""
        return self.is_numeric and len(self.shape) == 2

    def describe(self) -> str:
        """Shape and dtype in a few words, e.g. ``"shape (32, 784) of float32"``."""
        dtype = self.dtype.newbyteorder("=").name if self.dtype is not None else self.descr
        return f"shape {shape_text(self.shape)} of {dtype}"


def shape_text(shape: tuple[int, ...]) -> str:
    """``"(32, 784)"``, or ``"(70 dimensions)"`` for shapes too long to print."""
    return str(shape) if len(shape) <= 6 else f"({len(shape)} dimensions)"


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    """Exactly ``size`` bytes of the header, or an error saying the file ends inside it."""
    data = stream.read(size)
    if len(data) < size:
        raise NpyFormatError("the file ends inside the .npy header")
    return data


def _header_text(stream: IO[bytes]) -> tuple[str, int]:
    """The header dict's source text and the offset of the data after it."""
    magic = _read_exact(stream, len(MAGIC) + 2)
    if magic[: len(MAGIC)] != MAGIC:
        raise NpyFormatError("does not start with the .npy magic bytes")
    version = (magic[-2], magic[-1])
    length_format = LENGTH_FORMATS.get(version)
    if length_format is None:
        raise NpyFormatError(f"unknown .npy format version {version[0]}.{version[1]}")
    size = struct.calcsize(length_format)
    (length,) = struct.unpack(length_format, _read_exact(stream, size))
    if length > MAX_HEADER:
        raise NpyFormatError(f"header of {length} bytes is larger than the {MAX_HEADER} allowed")
    raw = _read_exact(stream, length)
    try:
        text = raw.decode("utf-8" if version == (3, 0) else "latin-1")
    except UnicodeDecodeError as exc:
        raise NpyFormatError("header is not valid UTF-8 text") from exc
    return text, len(magic) + size + length


def _literal(text: str) -> object:
    """The header's Python literal, parsed without evaluating anything."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise NpyFormatError("header is not a Python dict literal") from exc


def _shape(value: object) -> tuple[int, ...]:
    """A validated shape: a tuple of at most 64 non-negative integers."""
    if not isinstance(value, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in value
    ):
        raise NpyFormatError("header 'shape' is not a tuple of integers")
    if len(value) > MAX_DIMS:
        raise NpyFormatError(f"header 'shape' has {len(value)} dimensions (at most {MAX_DIMS})")
    if any(d < 0 for d in value):
        raise NpyFormatError("header 'shape' has a negative dimension")
    return value


def _unknown(descr: object) -> NpyFormatError:
    """The error for a ``descr`` that names no dtype (quoted, cut short)."""
    return NpyFormatError(f"header 'descr' is not a known dtype: {str(descr)[:40]!r}")


def _dtype(descr: object) -> tuple[np.dtype | None, str | None]:
    """The dtype of a numeric ``descr``, else ``None`` and why the data cannot be used."""
    if isinstance(descr, list):
        return None, STRUCTURED
    if not isinstance(descr, str) or (match := DESCR.fullmatch(descr)) is None:
        raise _unknown(descr)
    kind = match.group(1)
    if kind in REFUSED_KINDS:
        return None, f"{REFUSED_KINDS[kind]} (dtype {descr})"
    if kind not in NUMBER_KINDS or match.group(3):
        raise _unknown(descr)
    try:
        return np.dtype(descr), None
    except TypeError as exc:
        raise _unknown(descr) from exc


def read_npy_header(stream: IO[bytes]) -> NpyHeader:
    """Parse the header at the start of ``stream``, leaving it positioned at the data."""
    text, offset = _header_text(stream)
    header = _literal(text)
    if not isinstance(header, dict):
        raise NpyFormatError("header is not a dict")
    if set(header) != KEYS:
        raise NpyFormatError("header must have exactly the keys descr, fortran_order and shape")
    if not isinstance(header["fortran_order"], bool):
        raise NpyFormatError("header 'fortran_order' is not True or False")
    shape = _shape(header["shape"])
    dtype, refusal = _dtype(header["descr"])
    descr = header["descr"] if isinstance(header["descr"], str) else "structured"
    return NpyHeader(shape, header["fortran_order"], descr, dtype, refusal, offset)
