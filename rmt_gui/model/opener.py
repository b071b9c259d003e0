"""Open any supported model file, choosing the reader from the file's content, not its name.

Recognised: ``.npy``/``.npz``, safetensors, ``torch.save`` archives (state dicts, training
checkpoints, this project's format, pickled modules with ``trust``), legacy pickled
``torch.save`` files and TorchScript archives.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import Checkpoint
from rmt_gui.model.formats.numpy_files import NpyCheckpoint, NpzCheckpoint
from rmt_gui.model.formats.safetensors_file import SafetensorsCheckpoint, looks_like_safetensors

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL = 0x80


def _zip_names(path: Path) -> list[str] | None:
    """Member names of a readable zip archive, else ``None``."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None


def _open_torch(path: Path, trust: bool) -> Checkpoint:
    """Open with the torch reader (imported only now: it is slow to import)."""
    from rmt_gui.model.formats.torch_files import open_torch_file

    return open_torch_file(path, trust=trust)


def open_checkpoint(path: str | Path, trust: bool = False) -> Checkpoint:
    """Open ``path`` and return its :class:`Checkpoint`; raise :class:`FileError` otherwise.

    ``trust`` allows full unpickling of a pickled ``nn.Module``, which runs code from the file.
    """
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
    if head.startswith(ZIP_MAGIC):
        names = _zip_names(path)
        if names is None:
            raise FileError(path, "truncated or corrupt zip archive")
        if names and all(name.endswith(".npy") for name in names):
            return NpzCheckpoint(path)
        if any(name.endswith("data.pkl") or name.endswith("constants.pkl") for name in names):
            return _open_torch(path, trust)
        raise FileError(path, "a zip archive, but not a PyTorch or NumPy file")
    if looks_like_safetensors(head, path.stat().st_size):
        return SafetensorsCheckpoint(path)
    if head[0] == PICKLE_PROTOCOL:
        return _open_torch(path, trust)
    raise FileError(
        path,
        "not a recognised model file (expected a PyTorch checkpoint, TorchScript, "
        "safetensors, .npy or .npz)",
    )
