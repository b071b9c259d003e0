"""Open any supported model file, choosing the reader from the file's content, not its name."""

from __future__ import annotations

import zipfile
from pathlib import Path

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import Checkpoint
from rmt_gui.model.formats.numpy_files import NpyCheckpoint, NpzCheckpoint

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"


def _is_npz(path: Path) -> bool:
    """A zip archive whose members are all ``.npy`` files."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(name.endswith(".npy") for name in names)


def open_checkpoint(path: str | Path) -> Checkpoint:
    """Open ``path`` and return its :class:`Checkpoint`; raise :class:`FileError` otherwise."""
    path = Path(path)
    if not path.exists():
        raise FileError(path, "no such file")
    if path.is_dir():
        raise FileError(path, "is a folder, not a model file")
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise FileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not head:
        raise FileError(path, "is empty")
    if head.startswith(NPY_MAGIC):
        return NpyCheckpoint(path)
    if head.startswith(ZIP_MAGIC) and _is_npz(path):
        return NpzCheckpoint(path)
    raise FileError(path, "not a recognised model file (expected .npy or .npz)")
