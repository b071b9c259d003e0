"""User-facing errors: one line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path


class RmtGuiError(Exception):
    """An expected failure reported to the user as one line, never as a traceback."""


class FileError(RmtGuiError):
    """A file could not be read or used; the message is ``"<path>: <problem>"``."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


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
