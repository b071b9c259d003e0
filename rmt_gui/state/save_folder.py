"""Where a save dialog (export, report, plot image) opens: never inside the installation.

The folder the user last chose in one comes first; else the opened file's own folder, unless
that file ships with the app (the bundled default model in ``resources/``, or anything in the
package), where writing would land in the installation; else the home folder.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
RESOURCES = PACKAGE.parent / "resources"
INSTALLED = (PACKAGE, RESOURCES)
"""The app's own folders: the package and the resources shipped beside it."""


def inside(path: Path, folders: tuple[Path, ...]) -> bool:
    """Whether ``path`` is one of ``folders`` or lies below one of them."""
    resolved = path.resolve()
    return any(resolved.is_relative_to(folder.resolve()) for folder in folders)


def save_folder(
    last: Path | None,
    source: Path,
    home: Path | None = None,
    installed: tuple[Path, ...] | None = None,
) -> Path:
    """The folder a save dialog for ``source`` opens in: ``last`` (the user's last choice)
    when it is an existing folder, else ``source``'s folder, neither when part of the
    ``installed`` folders (default :data:`INSTALLED`), else ``home`` (default: the user's)."""
    own = INSTALLED if installed is None else installed
    for folder in (last, source.parent):
        if folder is not None and folder.is_dir() and not inside(folder, own):
            return folder
    return home if home is not None else Path.home()


def suggested_path(last: Path | None, source: Path, name: str) -> Path:
    """``name`` in the folder :func:`save_folder` picks for ``source``."""
    return save_folder(last, source) / name
