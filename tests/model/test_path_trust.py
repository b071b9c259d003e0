"""Paths that are not regular files fail in one line, and every error message stays one line."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rmt_gui.cli import main
from rmt_gui.errors import PROBLEM_LIMIT, FileError, RmtGuiError, printable, shown_path
from rmt_gui.model.opener import open_checkpoint
from tests.helpers.cli_errors import PREFIX, error_line, file_error

NOT_ROOT = pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")


def npy(path: Path) -> Path:
    """A small 2-D weight saved as ``.npy`` (a valid model file)."""
    np.save(path, np.random.default_rng(0).standard_normal((12, 8)))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("command", ["analyze", "prune", "evaluate"])
def test_named_pipe_is_refused_without_blocking(tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "model.pt"
    os.mkfifo(fifo)
    extra = {"prune": ["--rank", "1", "--out", str(tmp_path / "out.pt")]}.get(command, [])
    result = subprocess.run(
        [sys.executable, "-m", "rmt_gui", command, str(fifo), *extra],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"{PREFIX}{fifo}: is a named pipe (FIFO), not a regular model file\n"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_character_devices_are_refused(capsys: pytest.CaptureFixture[str], device: str) -> None:
    file_error(capsys, "analyze", device, "is a character device, not a regular model file")


def test_socket_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        file_error(capsys, "analyze", str(path), "is a socket")


def test_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file_error(capsys, "analyze", str(tmp_path), "is a folder, not a model file")


def test_link_to_a_model_file_opens(tmp_path: Path) -> None:
    link = tmp_path / "link.npy"
    link.symlink_to(npy(tmp_path / "weights.npy"))
    assert [info.shape for info in open_checkpoint(link).layers()] == [(12, 8)]


def test_broken_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "link.pt"
    link.symlink_to(tmp_path / "gone.pt")
    file_error(capsys, "analyze", str(link), "is a broken link")


def test_link_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    file_error(capsys, "analyze", str(tmp_path / "a"), "loops back on itself")


def test_missing_and_through_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file_error(capsys, "analyze", str(tmp_path / "missing.pt"), "no such file")
    inside = npy(tmp_path / "w.npy") / "x.pt"
    file_error(capsys, "analyze", str(inside), "a part of the path is a file")


@NOT_ROOT
def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = npy(tmp_path / "w.npy")
    path.chmod(0)
    try:
        file_error(capsys, "analyze", str(path), "permission denied")
    finally:
        path.chmod(0o600)


@NOT_ROOT
def test_file_in_a_closed_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = npy(tmp_path / "w.npy")
    tmp_path.chmod(0)
    try:
        file_error(capsys, "analyze", str(path), "permission denied")
    finally:
        tmp_path.chmod(0o700)


def test_name_component_too_long(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / ("m" * 300 + ".pt"))
    with pytest.raises(OSError, match="too long") as raised:
        os.stat(path)
    assert raised.value.errno == errno.ENAMETOOLONG
    file_error(capsys, "analyze", path, "file name too long")


def test_whole_path_too_long(capsys: pytest.CaptureFixture[str]) -> None:
    path = "d/" * 3000 + "model.pt"
    line = error_line(capsys, "analyze", path)
    assert line.startswith(f"{PREFIX}d/d/d/")
    assert line.endswith("d/d/model.pt: file name too long")
    assert len(line) < 400


def test_nul_byte_in_the_name(capsys: pytest.CaptureFixture[str]) -> None:
    line = error_line(capsys, "analyze", "model\0.pt")
    assert line == f"{PREFIX}model\\x00.pt: the file name contains a NUL byte"


def test_empty_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert error_line(capsys, "analyze", "") == f'{PREFIX}"": no file name given'


def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.pt"
    path.touch()
    file_error(capsys, "analyze", str(path), "is empty")


def test_name_that_is_not_utf8_opens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = os.fsdecode(b"weights-\xff\xfe")
    path = npy(tmp_path / f"{name}.npy")
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "weights-\\udcff\\udcfe.npy (npy, one array)" in out.splitlines()[0]


def test_name_that_is_not_utf8_in_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / os.fsdecode(b"broken-\xff.pt")
    path.write_bytes(b"not a model")
    line = file_error(capsys, "analyze", str(path), "not a recognised model file")
    assert "broken-\\xff.pt: " in line
    line.encode("ascii", "strict")


@pytest.mark.parametrize("name", ["two\nlines.pt", "carriage\rreturn.pt", "esc\x1b[2J.pt"])
def test_control_characters_in_the_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"garbage!")
    line = file_error(capsys, "analyze", str(path), "not a recognised model file")
    assert ascii(name)[1:-1] in line


def test_long_problem_is_cut_in_the_middle() -> None:
    error = FileError("model.pt", "start " + "x" * 5000 + " end")
    problem = str(error).removeprefix("model.pt: ")
    assert len(problem) == PROBLEM_LIMIT
    assert problem.startswith("start xxx")
    assert problem.endswith("xxx end")
    assert " … " in problem


def test_problem_lines_are_joined() -> None:
    error = FileError("model.pt", "first line\n  second line\r\nthird\x00")
    assert str(error) == "model.pt: first line second line third\\x00"
    assert error.problem == "first line second line third\\x00"


def test_any_error_is_one_printable_line() -> None:
    text = str(RmtGuiError("bad value\nexpected \u202edigits\u202c " + "y" * 2000))
    assert text.isprintable()
    assert "\\u202e" in text
    assert len(text) <= 300


def test_shown_path_escapes_but_keeps_the_name() -> None:
    assert shown_path("plain/model.pt") == "plain/model.pt"
    assert shown_path(b"bytes-\xff.pt") == "bytes-\\xff.pt"
    assert shown_path(Path("tab\tname.pt")) == "tab\\tname.pt"
    assert shown_path("") == '""'
    assert len(shown_path("x" * 5000)) == 300


def test_printable_leaves_ordinary_text_alone() -> None:
    assert printable("Größe 3×4 — ok") == "Größe 3×4 — ok"
    assert printable("\ud800") == "\\ud800"
