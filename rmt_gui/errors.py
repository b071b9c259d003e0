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
