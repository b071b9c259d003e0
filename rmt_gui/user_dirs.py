"""Per-user folders: where downloaded data is cached and where the app's runs are kept."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

PLACES = {
    "cache": ("Caches", "XDG_CACHE_HOME", ".cache"),
    "data": ("Application Support", "XDG_DATA_HOME", ".local/share"),
}


def user_folder(kind: Literal["cache", "data"]) -> Path:
    """This app's per-user ``kind`` folder (XDG on Linux, the usual places elsewhere)."""
    mac, xdg, fallback = PLACES[kind]
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / mac
    else:
        base = Path(os.environ.get(xdg, Path.home() / fallback))
    return base / "rmt-gui"
