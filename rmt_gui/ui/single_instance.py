"""One app per user and settings store: a second launch hands its files to the running window.

The running app listens on a local socket (:class:`InstanceServer`; a Unix socket, a named pipe
on Windows) named for the user and a hash of the settings location, so a test with its own INI
settings never reaches the user's app. A new launch connects first (:func:`hand_over`): it
sends one line of JSON, ``{"open": [absolute paths]}``, and waits for ``{"ok": true}``. The
JSON is ASCII (``ensure_ascii``), and file names that are not UTF-8 travel as the surrogate
escapes :func:`os.fsdecode` gives them, so every name arrives unchanged. When nothing listens
(no app, or a socket left behind by a crash) the launch removes the stale name
(:meth:`InstanceServer.listen`) and starts as the running app itself; when an app connects but
does not answer within :data:`TIMEOUT_MS`, the launch opens a window of its own.

Only the standard QtCore and QtNetwork modules are needed: the hand-over runs before any
window, or the QApplication, exists.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

TIMEOUT_MS = 3000
POLL_MS = 20
"""The wait for the reply goes in slices, so a server in this very process (tests) gets turns."""
MAX_REQUEST_BYTES = 1 << 20
ACK = b'{"ok": true}\n'
REFUSED = b'{"ok": false}\n'
MAX_REPLY_BYTES = 64
MAX_SOCKET_PATH = 100
Handover = Literal["opened", "absent", "busy"]


def server_name(settings_location: str) -> str:
    """The socket name of the app that uses ``settings_location``, for this user.

    On Linux it lies in ``$XDG_RUNTIME_DIR`` (private to the user) when there is one and the
    path fits a Unix socket address, else in Qt's temporary folder.
    """
    user = str(os.getuid()) if hasattr(os, "getuid") else getpass.getuser()
    digest = hashlib.sha256(settings_location.encode("utf-8", "surrogateescape")).hexdigest()
    name = f"rmt-gui-{user}-{digest[:16]}"
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    path = os.path.join(runtime, name)
    usable = runtime and os.path.isdir(runtime) and len(os.fsencode(path)) <= MAX_SOCKET_PATH
    return path if usable else name


def encode_request(paths: Sequence[Path]) -> bytes:
    """The request line for ``paths`` (made absolute; any file name survives the trip)."""
    names = [os.path.abspath(os.fsdecode(path)) for path in paths]
    return json.dumps({"open": names}, ensure_ascii=True).encode("ascii") + b"\n"


def decode_request(line: bytes) -> list[Path]:
    """The absolute paths of one request line; ``ValueError`` for anything else."""
    message = json.loads(line.decode("ascii"))
    names = message.get("open") if isinstance(message, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("not an open request")
    paths = [Path(name) for name in names]
    if not all(path.is_absolute() and "\0" not in str(path) for path in paths):
        raise ValueError("paths must be absolute")
    return paths


def hand_over(name: str, paths: Sequence[Path], timeout_ms: int = TIMEOUT_MS) -> Handover:
    """Ask the app listening on ``name`` to open ``paths``.

    ``"opened"``: it acknowledged. ``"absent"``: nothing listens (no app, or a socket left by a
    crash). ``"busy"``: an app took the connection but did not answer in time; it is alive, so
    its name must not be taken over.
    """
    reply = exchange(name, encode_request(paths), timeout_ms)
    if reply is None:
        return "absent"
    return "opened" if reply == ACK else "busy"


def exchange(name: str, request: bytes, timeout_ms: int = TIMEOUT_MS) -> bytes | None:
    """Send ``request`` to ``name`` and return the reply line (``b""`` if none came in time);
    ``None`` when nothing listens there."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return None
    socket.write(request)
    reply = b""
    deadline = time.monotonic() + timeout_ms / 1000
    while b"\n" not in reply and len(reply) <= MAX_REPLY_BYTES and time.monotonic() < deadline:
        socket.waitForReadyRead(POLL_MS)
        reply += bytes(socket.readAll().data())
    socket.abort()
    return reply


class InstanceServer(QObject):
    """Receives the files of later launches; emits them as :attr:`filesReceived`."""

    filesReceived = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)

    def listen(self, name: str) -> bool:
        """Listen on ``name``, first removing a socket that nothing answers on any more."""
        QLocalServer.removeServer(name)
        return self.server.listen(name)

    def close(self) -> None:
        """Stop listening (the socket goes, so the next launch starts a new app)."""
        self.server.close()

    def _accept(self) -> None:
        """Take each new connection; one that sends no request in time is dropped."""
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            buffer = bytearray()
            socket.readyRead.connect(lambda s=socket, b=buffer: self._read(s, b))
            socket.disconnected.connect(socket.deleteLater)
            QTimer.singleShot(5 * TIMEOUT_MS, socket, socket.abort)

    def _read(self, socket: QLocalSocket, buffer: bytearray) -> None:
        """Collect one request line; answer it (once), or refuse anything malformed or too long."""
        buffer += bytes(socket.readAll().data())
        if b"\n" not in buffer and len(buffer) <= MAX_REQUEST_BYTES:
            return
        try:
            paths = decode_request(bytes(buffer.split(b"\n", 1)[0]))
        except (ValueError, RecursionError):
            socket.write(REFUSED)
        else:
            self.filesReceived.emit(paths)
            socket.write(ACK)
        socket.readyRead.disconnect()
        socket.disconnectFromServer()
