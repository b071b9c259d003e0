"""One app instance: a later launch hands its files to the running window and exits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtNetwork import QLocalServer

from rmt_gui.ui.single_instance import (
    MAX_REQUEST_BYTES,
    REFUSED,
    InstanceServer,
    decode_request,
    encode_request,
    exchange,
    hand_over,
    server_name,
)

WAIT_MS = 60_000
ODD_NAME = os.fsdecode(b"caf\xe9 \xff model.pt")
"""A file name that is not UTF-8 (Latin-1 bytes), as Python spells it."""


@pytest.fixture
def name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A server name of this test's own (a private runtime folder, a settings file of its own)."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return server_name(str(tmp_path / "settings.ini"))


@pytest.fixture
def server(qtbot, name: str) -> Iterator[tuple[InstanceServer, list[list[Path]]]]:
    """A listening server and the list of requests it received."""
    instance = InstanceServer()
    received: list[list[Path]] = []
    instance.filesReceived.connect(received.append)
    assert instance.listen(name)
    yield instance, received
    instance.close()


def in_thread(qtbot, call: Callable[[], object]) -> object:
    """Run a blocking client ``call`` on a thread while this thread's event loop serves it."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call()))
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=WAIT_MS)
    return result[0]


def test_requests_carry_any_file_name_as_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    line = encode_request([Path(ODD_NAME), tmp_path / "b.pt"])
    assert line.endswith(b"\n") and line.isascii()
    paths = decode_request(line.rstrip(b"\n"))
    assert paths == [tmp_path / ODD_NAME, tmp_path / "b.pt"]
    assert os.fsencode(paths[0]) == os.fsencode(tmp_path) + b"/caf\xe9 \xff model.pt"


@pytest.mark.parametrize(
    "line",
    [b"", b"nope", b"[]", b'{"open": "a.pt"}', b'{"open": [1]}', b'{"open": ["rel.pt"]}',
     b'{"open": ["/a\\u0000b"]}', b'{"close": []}', b'{"open": ["/\xff"]}', b"[" * 100_000],
)  # fmt: skip
def test_malformed_requests_are_refused(line: bytes) -> None:
    with pytest.raises((ValueError, RecursionError)):
        decode_request(line)


def test_names_are_per_user_and_per_settings_store(name: str, tmp_path: Path) -> None:
    assert name != server_name(str(tmp_path / "other.ini"))
    assert Path(name).parent == tmp_path
    if hasattr(os, "getuid"):
        assert Path(name).name.startswith(f"rmt-gui-{os.getuid()}-")


def test_the_running_app_opens_the_files_of_a_later_launch(qtbot, server, name, tmp_path) -> None:
    _, received = server
    paths = [tmp_path / ODD_NAME, tmp_path / "b.pt"]
    assert in_thread(qtbot, lambda: hand_over(name, paths)) == "opened"
    assert received == [paths]
    assert in_thread(qtbot, lambda: hand_over(name, [])) == "opened"
    assert received == [paths, []]


def test_the_server_refuses_a_malformed_request(qtbot, server, name) -> None:
    _, received = server

    request = b'{"open": ["relative.pt"]}\n'
    assert in_thread(qtbot, lambda: exchange(name, request)) == REFUSED
    too_long = b"[" * (MAX_REQUEST_BYTES + 1)
    assert in_thread(qtbot, lambda: exchange(name, too_long, timeout_ms=5000)) == REFUSED
    assert received == []


def test_no_app_or_a_stale_socket_means_this_launch_becomes_the_app(qtbot, name) -> None:
    assert hand_over(name, []) == "absent"
    if hasattr(socket, "AF_UNIX"):
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(name)
        stale.close()
        assert Path(name).exists()
        assert hand_over(name, []) == "absent"
    instance = InstanceServer()
    assert instance.listen(name)
    instance.close()


def test_an_app_that_does_not_answer_keeps_its_name(qtbot, name) -> None:
    silent = QLocalServer()
    assert silent.listen(name)
    assert in_thread(qtbot, lambda: hand_over(name, [], timeout_ms=200)) == "busy"
    silent.close()


@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_the_window_comes_forward_and_opens_one_file_per_turn(
    qtbot, window, model_files, monkeypatch
) -> None:
    opened: list[list[Path]] = []
    open_paths = window.open_paths
    monkeypatch.setattr(
        window, "open_paths", lambda paths: opened.append(paths) or open_paths(paths)
    )
    window.showMinimized()
    files = [model_files["small"], model_files["other"]]
    window.receive(files)
    assert window.tabs.count() == 0 and not window.isMinimized()
    qtbot.waitUntil(lambda: window.tabs.count() == 2, timeout=WAIT_MS)
    assert opened == [[files[0]], [files[1]]]
    assert [v.path for v in window.views()] == files and window.pending == []
    for view in window.views():
        qtbot.waitUntil(lambda v=view: v.document is not None, timeout=WAIT_MS)


@pytest.mark.slow
def test_rmt_gui_open_hands_its_files_to_the_running_app(qtbot, tmp_path, monkeypatch):
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    instance = InstanceServer()
    received: list[list[Path]] = []
    instance.filesReceived.connect(received.append)
    assert instance.listen(server_name(str(config / "rmt-gui" / "rmt-gui.conf")))
    odd = os.fsencode(ODD_NAME)
    command = [sys.executable, "-m", "rmt_gui", "open", odd, "b.pt"]
    with subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE) as launch:
        qtbot.waitUntil(lambda: launch.poll() is not None, timeout=WAIT_MS)
        output = launch.stdout.read() if launch.stdout else b""
    instance.close()
    assert launch.returncode == 0, output
    here = tmp_path.resolve()
    assert received == [[here / ODD_NAME, here / "b.pt"]]


@pytest.mark.parametrize(("flag", "new_window"), [([], False), (["--new-window"], True)])
def test_new_window_reaches_the_launcher(monkeypatch, flag: list[str], new_window: bool) -> None:
    import rmt_gui.cli.open as open_command
    from rmt_gui.cli import main

    calls: list[tuple[list[str], bool]] = []
    monkeypatch.setattr(open_command, "launch", lambda files, new: calls.append((files, new)))
    assert main(["open", *flag, "a.pt"]) == 0
    assert calls == [(["a.pt"], new_window)]
