"""Before Qt starts: a missing system library or display is one line naming the fix, exit 1."""

from __future__ import annotations

import pytest

import rmt_gui.ui.app as app_module
from rmt_gui.cli import desktop_libs
from rmt_gui.cli.desktop_libs import check_desktop, missing_packages, no_display, uses_xcb
from rmt_gui.errors import RmtGuiError
from tests.helpers.cli_errors import error_line

X11 = {"DISPLAY": ":0"}


def without(*sonames: str):
    """A loader that fails (as ``ctypes.CDLL`` does) for ``sonames`` only."""

    def load(soname: str) -> object:
        if soname in sonames:
            raise OSError(f"{soname}: cannot open shared object file: No such file or directory")
        return object()

    return load


def test_a_missing_xcb_library_names_its_package_and_the_command() -> None:
    with pytest.raises(RmtGuiError) as caught:
        check_desktop(X11, "linux", without("libxcb-cursor.so.0"))
    message = str(caught.value)
    assert "1 missing system package;" in message
    assert message.endswith("sudo apt-get install libxcb-cursor0")


def test_every_missing_package_is_listed_once_in_link_order() -> None:
    loader = without("libxkbcommon-x11.so.0", "libGL.so.1", "libxcb-icccm.so.4")
    assert missing_packages(X11, loader) == ["libgl1", "libxcb-icccm4", "libxkbcommon-x11-0"]


def test_xcb_libraries_matter_only_where_qt_uses_xcb() -> None:
    loader = without("libxcb-cursor.so.0")
    wayland = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}
    for env in ({"QT_QPA_PLATFORM": "offscreen"}, wayland):
        assert not uses_xcb(env) and missing_packages(env, loader) == []
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb:nograb", **wayland})
    check_desktop({"QT_QPA_PLATFORM": "offscreen"}, "linux", loader)
    check_desktop(X11, "darwin", without("libGL.so.1"))


def test_no_display_is_reported_after_the_libraries() -> None:
    assert no_display({}) and no_display({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "w"})
    assert not no_display(X11) and not no_display({"QT_QPA_PLATFORM": "offscreen"})
    with pytest.raises(RmtGuiError, match=r"no display.*xvfb-run"):
        check_desktop({}, "linux", without())


def test_the_cli_stops_before_qt_with_one_line(monkeypatch, capsys) -> None:
    started: list[object] = []
    monkeypatch.setattr(app_module, "main", lambda *args: started.append(args) or 0)
    monkeypatch.setattr(desktop_libs.sys, "platform", "linux")
    monkeypatch.setattr(desktop_libs, "loads", lambda soname, *_: soname != "libxcb-cursor.so.0")
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("DISPLAY", ":0")
    line = error_line(capsys, "open", "model.pt")
    assert line.endswith("install with: sudo apt-get install libxcb-cursor0")
    assert started == []
