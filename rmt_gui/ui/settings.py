"""Typed access to the persisted settings: geometry, splitters, recent files, data, options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

RECENT_LIMIT = 10


def user_settings() -> QSettings:
    """The per-user settings store of the app."""
    return QSettings("rmt-gui", "rmt-gui")


def ini_settings(path: Path) -> QSettings:
    """Settings kept in one INI file (tests use this so the user's settings stay untouched)."""
    return QSettings(str(path), QSettings.Format.IniFormat)


class AppSettings:
    """The app's view of a :class:`QSettings` store."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    def bytes(self, key: str) -> QByteArray | None:
        """A saved geometry or splitter state."""
        value = self.store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self.store.setValue(key, value)

    def recent_files(self) -> list[Path]:
        """Most recently opened files first, only those that still exist."""
        raw = self.store.value("recent_files", [])
        items = [raw] if isinstance(raw, str) else list(raw or [])
        return [Path(p) for p in items if Path(p).exists()]

    def add_recent(self, path: Path) -> None:
        """Put ``path`` first in the recent files."""
        path = path.resolve()
        items = [str(path)] + [str(p) for p in self.recent_files() if p.resolve() != path]
        self.store.setValue("recent_files", items[:RECENT_LIMIT])

    def data_folder(self) -> Path | None:
        """The MNIST folder chosen by the user, if any."""
        value = self.store.value("data_folder", "")
        return Path(value) if value else None

    def set_data_folder(self, folder: Path) -> None:
        self.store.setValue("data_folder", str(folder))

    def options(self, group: str) -> dict[str, Any]:
        """Last used options of a panel (a JSON object; empty when unset or unreadable)."""
        try:
            value = json.loads(str(self.store.value(f"options/{group}", "{}")))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def set_options(self, group: str, options: dict[str, Any]) -> None:
        self.store.setValue(f"options/{group}", json.dumps(options))

    def sync(self) -> None:
        """Write pending changes to disk."""
        self.store.sync()
