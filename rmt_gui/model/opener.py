"""Open any supported model file, choosing the reader from the file's content, not its name.

Recognised: ``.npy``/``.npz``, safetensors, ``torch.save`` archives (state dicts, training
checkpoints, this project's format, pickled modules with ``trust``), legacy pickled
``torch.save`` files and TorchScript archives, ONNX models (a protobuf ModelProto, read with the
``onnx`` extra; a ``.onnx`` file that matches no format is still parsed as one, so that its error
says what is wrong); and folders: Hugging Face model folders (single or sharded safetensors or
``.bin``) and PEFT LoRA adapters (``rmt_gui.model.formats.folders``).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import Checkpoint, zip_names
from rmt_gui.model.formats.numpy_files import NpyCheckpoint, NpzCheckpoint
from rmt_gui.model.formats.onnx_file import OnnxCheckpoint, looks_like_onnx
from rmt_gui.model.formats.pickle_scan import starts_with_pickle
from rmt_gui.model.formats.safetensors_file import SafetensorsCheckpoint, looks_like_safetensors

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL = 0x80
ONNX_SUFFIX = ".onnx"
OS_PROBLEMS: dict[int | None, str] = {  # keyed by OSError.errno, which may be None
    errno.ENAMETOOLONG: "file name too long",
    errno.EACCES: "cannot be read: permission denied",
    errno.EPERM: "cannot be read: permission denied",
    errno.ELOOP: "is a link that loops back on itself",
    errno.ENOTDIR: "no such file (a part of the path is a file, not a folder)",
}
SPECIAL_FILES = (
    (stat.S_ISFIFO, "named pipe (FIFO)"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def _open_torch(path: Path, trust: bool) -> Checkpoint:
    """Open with the torch reader (imported only now: it is slow to import)."""
    from rmt_gui.model.formats.torch_files import open_torch_file

    return open_torch_file(path, trust=trust)


def open_checkpoint(path: str | Path, trust: bool = False) -> Checkpoint:
    """Open ``path`` (a file or a model folder) and return its :class:`Checkpoint`, else raise
    :class:`FileError`.

    ``trust`` allows full unpickling of a pickled ``nn.Module``, which runs code from the file.
    A file without any fully connected (2-D float) weight is refused: there is nothing to show.
    """
    if not os.fspath(path):
        raise FileError(path, "no file name given")
    path = Path(path)
    checkpoint = _open_folder(path) if _is_folder(path) else _open_file(path, trust)
    if not checkpoint.layers():
        raise FileError(
            path, f"no 2-D float weights (fully connected layers) in this {checkpoint.format} file"
        )
    return checkpoint


def _is_folder(path: Path) -> bool:
    """Whether ``path`` is a folder; a name the system refuses (too long, a NUL byte) is not, so
    :func:`_check_regular_file` reports it in plain words."""
    try:
        return stat.S_ISDIR(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def _open_folder(path: Path) -> Checkpoint:
    """Open a model folder (its reader imported only now)."""
    from rmt_gui.model.formats.folders import open_folder

    return open_folder(path)


def _open_file(path: Path, trust: bool) -> Checkpoint:
    """Open a regular file by its first bytes."""
    _check_regular_file(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise FileError(path, _os_problem(exc)) from exc
    if not head:
        raise FileError(path, "is empty")
    return _open_by_content(path, head, trust)


def _os_problem(exc: OSError) -> str:
    """What an operating-system error on the model file means, in plain words."""
    return OS_PROBLEMS.get(exc.errno, f"cannot be read ({exc.strerror or exc})")


def _check_regular_file(path: Path) -> None:
    """Refuse, without opening it, anything but a regular file (a link to one is fine).

    Opening a named pipe for reading blocks until someone writes to it, and a device such as
    ``/dev/zero`` never ends, so neither may reach a reader.
    """
    try:
        mode = path.stat().st_mode
    except ValueError as exc:
        raise FileError(path, "the file name contains a NUL byte") from exc
    except FileNotFoundError as exc:
        raise FileError(path, _missing_problem(path)) from exc
    except OSError as exc:
        raise FileError(path, _os_problem(exc)) from exc
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in SPECIAL_FILES if test(mode)), "special file")
        raise FileError(path, f"is a {kind}, not a regular model file")


def _missing_problem(path: Path) -> str:
    """Why ``stat`` found nothing: a link pointing nowhere, or no such file at all."""
    try:
        is_link = stat.S_ISLNK(path.lstat().st_mode)
    except OSError:
        is_link = False
    return "is a broken link (its target does not exist)" if is_link else "no such file"


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
    if looks_like_onnx(head):
        return OnnxCheckpoint(path)
    if head[0] == PICKLE_PROTOCOL or starts_with_pickle(path):
        return _open_torch(path, trust)
    if path.suffix.lower() == ONNX_SUFFIX:
        return OnnxCheckpoint(path)
    raise FileError(
        path,
        "not a recognised model file (expected a PyTorch checkpoint, TorchScript, "
        "safetensors, ONNX, .npy or .npz)",
    )
