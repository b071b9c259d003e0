"""Run ``rmt_gui.cli.main`` in-process and check the one-line error contract."""

from __future__ import annotations

import pytest

from rmt_gui.cli import main
from rmt_gui.errors import shown_path

PREFIX = "rmt-gui: error: "


def error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI on ``argv``; assert exit 1 and exactly one stderr line, and return it."""
    status = main(list(argv))
    captured = capsys.readouterr()
    assert status == 1, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert captured.err == lines[0] + "\n"
    assert lines[0].startswith(PREFIX), lines[0]
    assert "Traceback" not in captured.err
    assert lines[0].isprintable(), ascii(lines[0])
    return lines[0]


def file_error(capsys: pytest.CaptureFixture[str], command: str, path: str, *parts: str) -> str:
    """``rmt-gui COMMAND PATH`` fails in one line naming ``path`` and holding every part."""
    line = error_line(capsys, command, path)
    assert line.startswith(f"{PREFIX}{shown_path(path)}: "), line
    for part in parts:
        assert part in line, line
    return line
