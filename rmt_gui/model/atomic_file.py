"""Write a file atomically: into a temporary file beside the target, then renamed into place.

The temporary file is ``.{name}.rmtgui-{pid}.{random}.tmp``. If the writer is interrupted it is
removed; if the writer is killed (SIGKILL, power loss) the next write into that folder removes it
once its writer process is gone. Nothing else in the folder is ever touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from rmt_gui.errors import FileError, caused_by

TEMP_TAG = "rmtgui"
TEMP_PATTERN = re.compile(rf"\..+\.{TEMP_TAG}-(?P<pid>[0-9]{{1,10}})\.[a-z0-9_]{{8}}\.tmp")
STALE_SECONDS = 5.0
ABANDONED_SECONDS = 3600.0
TEMP_NAME_BYTES = 120
_writing: set[str] = set()


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (assumed so where it cannot be checked safely)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _is_stale(name: str, age: float) -> bool:
    """Whether our temporary file ``name``, last written ``age`` seconds ago, lost its writer.

    Its writer is gone when its pid is dead, or is ours but the file is not one we are writing
    (a pid reused after a restart); the few seconds of grace protect a live writer whose pid we
    cannot see (another pid namespace). A temporary file untouched for an hour is abandoned.
    """
    match = TEMP_PATTERN.fullmatch(name)
    if match is None or name in _writing:
        return False
    if age > ABANDONED_SECONDS:
        return True
    pid = int(match["pid"])
    writer_gone = pid == os.getpid() or not _pid_alive(pid)
    return writer_gone and age > STALE_SECONDS


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete temporary files our killed writers left in ``folder``; return what was removed."""
    removed = []
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and _is_stale(entry.name, now - info.st_mtime):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _temp_prefix(name: str) -> str:
    """``.{name}.rmtgui-{pid}.`` with ``name`` shortened so the temporary name stays legal."""
    while len(os.fsencode(name)) > TEMP_NAME_BYTES:
        name = name[:-1]
    return f".{name}.{TEMP_TAG}-{os.getpid()}."


def _check_target(path: Path, force: bool) -> None:
    """Refuse a folder or special file at ``path``, and any existing entry without ``force``.

    A symbolic link counts as existing even when its target is missing; with ``force`` the link
    itself is replaced (its target is left alone), but never one that leads to a folder or device.
    """
    if path.is_dir():
        raise FileError(path, "is a folder")
    if path.exists() and not path.is_file():
        raise FileError(path, "is a device or other special file, not a regular file")
    if os.path.lexists(path) and not force:
        what = " (a symbolic link)" if path.is_symlink() else ""
        raise FileError(
            path, f"already exists{what}; choose another name or pass --force to replace it"
        )


def _folder_of(path: Path) -> Path:
    """The existing folder ``path`` will be written in."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise FileError(path, f"folder {folder} {problem}")
    return folder


def _mode_for(path: Path) -> int:
    """Permissions of the regular file being replaced, else those of a new file."""
    if path.is_file() and not path.is_symlink():
        return stat.S_IMODE(path.stat().st_mode)
    return 0o666 & ~_umask()


def _reason(exc: OSError) -> str:
    """The OS's words for ``exc`` (``No space left on device``), without the errno prefix."""
    return exc.strerror or str(exc) or type(exc).__name__


def atomic_write(path: Path, write: Callable[[BinaryIO], object], force: bool = False) -> Path:
    """Call ``write`` on a temporary file in ``path``'s folder, then rename it into place.

    The result gets the usual permissions of a new file (or keeps those of the file it replaces).
    Any failure or interrupt removes the temporary file; OS errors become a :class:`FileError`.
    """
    path = Path(path)
    try:
        _check_target(path, force)
        folder = _folder_of(path)
        mode = _mode_for(path)
    except OSError as exc:
        raise FileError(path, f"cannot be used as an output file ({_reason(exc)})") from exc
    remove_stale_temps(folder)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=folder)
    except OSError as exc:
        raise FileError(path, f"cannot create a file in folder {folder} ({_reason(exc)})") from exc
    _writing.add(Path(tmp).name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        failure = caused_by(exc, OSError)
        if isinstance(exc, Exception) and failure is not None:
            raise FileError(path, f"could not be written ({_reason(failure)})") from exc
        raise
    finally:
        _writing.discard(Path(tmp).name)
    return path
