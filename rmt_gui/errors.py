"""User-facing errors: one line naming the file and the problem."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

E = TypeVar("E", bound=BaseException)

PROBLEM_LIMIT = 200
PATH_LIMIT = 300
MESSAGE_LIMIT = 300
FILE_NAME_BYTE = range(0xDC80, 0xDD00)  # how surrogateescape carries an undecodable byte


class RmtGuiError(Exception):
    """An expected failure reported to the user as one line, never as a traceback."""

    def __str__(self) -> str:
        """The message on one printable line, however it was built."""
        return single_line(super().__str__(), MESSAGE_LIMIT)


class FileError(RmtGuiError):
    """A file could not be read or used; the message is ``"<path>: <problem>"``, one line.

    The path keeps its name visible with control characters and undecodable bytes escaped; the
    problem is flattened to one line of at most :data:`PROBLEM_LIMIT` characters.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = single_line(problem, PROBLEM_LIMIT)
        super().__init__(f"{shown_path(path)}: {self.problem}")

    def __str__(self) -> str:
        """The message as built: both parts are already one printable line."""
        return Exception.__str__(self)


class CancelledError(RmtGuiError):
    """Long work stopped because the user asked it to; state up to the last step is intact."""


BOILERPLATE = (
    " This is an internal miniz error",
    " The file might be corrupted",
    " If you are seeing this error",
    " Exception raised from ",
)


def one_line(problem: object, limit: int = 160) -> str:
    """The first line of an exception's text, without library boilerplate, at most ``limit``."""
    lines = [line.strip() for line in str(problem).splitlines() if line.strip()]
    text = lines[0] if lines else type(problem).__name__
    for phrase in BOILERPLATE:
        text = text.split(phrase, 1)[0]
    text = text.rstrip(" .:")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _escape(char: str) -> str:
    """A visible spelling of a character that must not reach a terminal as it is."""
    if ord(char) in FILE_NAME_BYTE:
        return f"\\x{ord(char) - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """``text`` with control and format characters and undecodable file-name bytes escaped.

    The result cannot break a line, move a terminal's cursor, or fail to encode when printed.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def cut_middle(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and end around an ellipsis."""
    if len(text) <= limit:
        return text
    tail = (limit - 3) // 3
    return f"{text[: limit - 3 - tail].rstrip()} … {text[len(text) - tail :].lstrip()}"


def single_line(text: str, limit: int) -> str:
    """``text`` as one printable line of at most ``limit`` characters; line breaks become spaces."""
    rough = cut_middle(text, 4 * limit)
    flat = " ".join(part.strip() for part in rough.splitlines() if part.strip())
    return cut_middle(printable(flat), limit)


def shown_path(path: str | os.PathLike[str] | bytes) -> str:
    """A file name as printed in messages: escaped like :func:`printable`, at most PATH_LIMIT."""
    text = os.fsdecode(path)
    return cut_middle(printable(text), PATH_LIMIT) if text else '""'


def caused_by(exc: BaseException, kind: type[E]) -> E | None:
    """The first ``kind`` in ``exc``'s chain (itself, causes, contexts): why a wrapper was raised.

    torch re-raises a failure inside its writer (an interrupt, a full disk) as a RuntimeError
    whose context is the real reason.
    """
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None
