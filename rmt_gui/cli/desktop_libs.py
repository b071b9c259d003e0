"""Before Qt starts on Linux: the system libraries it needs and a display, or one clear line.

Qt's xcb platform plugin aborts the process ("Could not load the Qt platform plugin xcb") when
one of its system libraries is missing, and names none of them; since Qt 6.5 a fresh desktop
often lacks ``libxcb-cursor0``. This check loads each library the installed PySide6 wheel needs
(by its soname, as the dynamic loader would) before any Qt import, and raises one
:class:`RmtGuiError` naming the missing Debian/Ubuntu packages and the command installing them.
It needs no Qt itself, so the other commands stay light.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

from rmt_gui.errors import RmtGuiError

GUI_LIBRARIES = {
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libglib-2.0.so.0": "libglib2.0-0",
}
"""What QtGui and QtWidgets link on Linux, whatever the platform plugin: soname → package."""

XCB_LIBRARIES = {
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libdbus-1.so.3": "libdbus-1-3",
}
"""What Qt's xcb platform plugin (the X11 one) links: soname → Debian/Ubuntu package."""

Loader = Callable[[str], object]


def loads(soname: str, loader: Loader = ctypes.CDLL) -> bool:
    """Whether the dynamic loader finds and loads ``soname``."""
    try:
        loader(soname)
    except OSError:
        return False
    return True


def uses_xcb(env: Mapping[str, str]) -> bool:
    """Whether Qt will pick the xcb plugin: asked for, or by default outside a Wayland session."""
    chosen = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0].strip()
    if chosen:
        return chosen == "xcb"
    return not (env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland")


def missing_packages(env: Mapping[str, str], loader: Loader = ctypes.CDLL) -> list[str]:
    """The packages whose libraries the desktop app would fail to load, in link order."""
    wanted = dict(GUI_LIBRARIES)
    if uses_xcb(env):
        wanted |= XCB_LIBRARIES
    return [package for soname, package in wanted.items() if not loads(soname, loader)]


def no_display(env: Mapping[str, str]) -> bool:
    """Whether the platform Qt will use needs a display that this session lacks."""
    chosen = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0].strip()
    if chosen in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb"):
        return False
    if chosen == "xcb":
        return not env.get("DISPLAY")
    return not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def check_desktop(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    loader: Loader = ctypes.CDLL,
) -> None:
    """Raise :class:`RmtGuiError` (one line) when the desktop app cannot start here on Linux:
    missing system packages (with the ``apt`` command installing them) or no display."""
    if not (platform or sys.platform).startswith("linux"):
        return
    env = os.environ if env is None else env
    missing = missing_packages(env, loader)
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise RmtGuiError(
            f"the desktop app (Qt on Linux) needs {len(missing)} missing system package{plural}; "
            f"install with: sudo apt-get install {' '.join(missing)}"
        )
    if no_display(env):
        raise RmtGuiError(
            "no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset): run it in "
            "a desktop session, over `ssh -X`, or under `xvfb-run rmt-gui`"
        )
