"""Typed access to the persisted settings: geometry, splitters, recent files, data, options.

The options (view, prune and train) are one JSON document under :data:`OPTIONS_KEY`, read and
written through :mod:`rmt_gui.state.settings_schema` (which checks every field and migrates
older versions). A store without that key holds version 0: the ``options/view`` and
``options/train`` keys the app wrote before; they are dropped once the document is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from rmt_gui.state.settings_schema import (
    FileSettings,
    TrainSettings,
    ViewSettings,
    decode,
    encode,
    migrate,
    read,
    with_section,
)

RECENT_LIMIT = 10
OPTIONS_KEY = "options/document"
VERSION_0_KEYS = {"view": "options/view", "train": "options/train"}
NAME_WIDTH_KEY = "layer_table/name_width"
NAME_WIDTH_RANGE = (40, 2000)


def user_settings() -> QSettings:
    """The per-user settings store of the app."""
    return QSettings("rmt-gui", "rmt-gui")


def ini_settings(path: Path) -> QSettings:
    """Settings kept in one INI file (tests use this so the user's settings stay untouched)."""
    return QSettings(str(path), QSettings.Format.IniFormat)


def _path(value: object) -> Path | None:
    """A stored path that names an existing file or folder, else ``None``."""
    if not isinstance(value, str) or not value or "\0" in value:
        return None
    path = Path(value)
    return path if path.exists() else None


class AppSettings:
    """The app's view of a :class:`QSettings` store."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    def location(self) -> str:
        """Where the store lives (a file path, or a registry path on Windows)."""
        return self.store.fileName()

    def bytes(self, key: str) -> QByteArray | None:
        """A saved geometry or splitter state."""
        value = self.store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self.store.setValue(key, value)

    def recent_files(self) -> list[Path]:
        """Most recently opened files first, only those that still exist."""
        raw = self.store.value("recent_files", [])
        items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        return [path for path in map(_path, items) if path is not None]

    def add_recent(self, path: Path) -> None:
        """Put ``path`` first in the recent files."""
        path = path.resolve()
        items = [str(path)] + [str(p) for p in self.recent_files() if p.resolve() != path]
        self.store.setValue("recent_files", items[:RECENT_LIMIT])

    def data_folder(self) -> Path | None:
        """The MNIST folder chosen by the user, if any."""
        value = self.store.value("data_folder", "")
        return Path(value) if isinstance(value, str) and value and "\0" not in value else None

    def set_data_folder(self, folder: Path) -> None:
        self.store.setValue("data_folder", str(folder))

    def name_width(self) -> int | None:
        """The Layer column's width (pixels) the user last chose, if any and sensible."""
        value = self.store.value(NAME_WIDTH_KEY)
        try:
            width = int(value) if isinstance(value, (int, str)) else None
        except ValueError:
            return None
        low, high = NAME_WIDTH_RANGE
        return width if width is not None and low <= width <= high else None

    def set_name_width(self, width: int) -> None:
        """Remember the Layer column's width for the tables of files opened later."""
        self.store.setValue(NAME_WIDTH_KEY, int(width))

    def view(self) -> ViewSettings:
        """How files open: plot, prune panel, evaluation and sweep options."""
        return read(ViewSettings, self._document().get("view"), ViewSettings())

    def set_view(self, view: ViewSettings) -> None:
        """Keep ``view`` as the options of the next file opened."""
        self._write("view", view)

    def train(self) -> TrainSettings:
        """The Train tab's last settings (the paper's run where unset or unreadable)."""
        return read(TrainSettings, self._document().get("train"), TrainSettings.paper())

    def set_train(self, train: TrainSettings) -> None:
        """Keep ``train`` as the Train tab's settings."""
        self._write("train", train)

    def save_folder(self) -> Path | None:
        """The folder last chosen in a save dialog, if it still exists."""
        files = read(FileSettings, self._document().get("files"), FileSettings())
        folder = _path(files.save_folder)
        return folder if folder is not None and folder.is_dir() else None

    def set_save_folder(self, folder: Path) -> None:
        """Open the next save dialog in ``folder`` (the one the user just chose)."""
        self._write("files", FileSettings(str(folder)))

    def _document(self) -> dict[str, Any]:
        """The options document, migrated to the current version."""
        if self.store.contains(OPTIONS_KEY):
            return migrate(decode(self.store.value(OPTIONS_KEY)))
        return migrate(
            {name: decode(self.store.value(key)) for name, key in VERSION_0_KEYS.items()}
        )

    def _write(self, name: str, settings: ViewSettings | TrainSettings | FileSettings) -> None:
        """Store group ``name`` (in the current version; the version 0 keys go)."""
        self.store.setValue(OPTIONS_KEY, encode(with_section(self._document(), name, settings)))
        for key in VERSION_0_KEYS.values():
            self.store.remove(key)

    def sync(self) -> None:
        """Write pending changes to disk."""
        self.store.sync()
