"""Open any supported model file, choosing the reader from the file's content, not its name.

Recognised: ``.npy``/``.npz``, safetensors, ``torch.save`` archives (state dicts, training
checkpoints, this project's format, pickled modules with ``trust``), legacy pickled
``torch.save`` files and TorchScript archives.
"""

from __future__ import annotations

from pathlib import Path

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import Checkpoint, zip_names
from rmt_gui.model.formats.numpy_files import NpyCheckpoint, NpzCheckpoint
from rmt_gui.model.formats.safetensors_file import SafetensorsCheckpoint, looks_like_safetensors

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL = 0x80


def _open_torch(path: Path, trust: bool) -> Checkpoint:
    """Open with the torch reader (imported only now: it is slow to import)."""
    from rmt_gui.model.formats.torch_files import open_torch_file

    return open_torch_file(path, trust=trust)


def open_checkpoint(path: str | Path, trust: bool = False) -> Checkpoint:
    """Open ``path`` and return its :class:`Checkpoint`; raise :class:`FileError` otherwise.

    ``trust`` allows full unpickling of a pickled ``nn.Module``, which runs code from the file.
    A file without any fully connected (2-D float) weight is refused: there is nothing to show.
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
    checkpoint = _open_by_content(path, head, trust)
    if not checkpoint.layers():
        raise FileError(
            path, f"no 2-D float weights (fully connected layers) in this {checkpoint.format} file"
        )
    return checkpoint


def _open_by_content(path: Path, head: bytes, trust: bool) -> Checkpoint:
    """Choose the reader from the first bytes of the file."""
    if head.startswith(NPY_MAGIC):
        return NpyCheckpoint(path)
    if head.startswith(ZIP_MAGIC):
        names = zip_names(path)
        if names is None:
            raise FileError(path, "truncated or corrupt zip archive")
        if names and all(name.endswith(".npy") for name in names):
            return NpzCheckpoint(path)
        if any(name.endswith(("data.pkl", "constants.pkl")) for name in names):
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
