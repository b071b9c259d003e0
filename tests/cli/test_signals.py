"""Stopping the command line: SIGTERM/Ctrl+C mid-export, SIGKILL leftovers, a closed stdout pipe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from rmt_gui import cli
from rmt_gui.cli import analyze, main
from rmt_gui.cli import open as open_command
from rmt_gui.errors import FileError
from rmt_gui.model.atomic_file import TEMP_PATTERN
from rmt_gui.model.export import export_model
from rmt_gui.model.tree import build_mlp

SLOW_CLI = '''
"""rmt-gui whose export writer pauses after every write, so a signal lands inside torch.save."""
import sys
import time

from rmt_gui.cli import main
from rmt_gui.model import export

real_save_native = export.save_native


class SlowFile:
    """Passes writes through to the real file, flushed, then pauses."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        written = self.handle.write(data)
        self.handle.flush()
        time.sleep(0.25)
        return written

    def __getattr__(self, name):
        return getattr(self.handle, name)


def slow_save_native(model, handle, *rest):
    real_save_native(model, SlowFile(handle), *rest)


export.save_native = slow_save_native
sys.exit(main(sys.argv[1:]))
'''
START_SECONDS = 120.0


def temps(folder: Path) -> list[Path]:
    """Our temporary files in ``folder``."""
    return sorted(p for p in folder.iterdir() if TEMP_PATTERN.fullmatch(p.name))


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen) -> None:
    """Poll ``condition`` until it holds; fail if the process ends or it takes too long."""
    deadline = time.monotonic() + START_SECONDS
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"exited {proc.returncode} early: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the export never started writing")
        time.sleep(0.05)


@pytest.fixture
def slow_prune(tmp_path: Path) -> Callable[[Path], subprocess.Popen]:
    """Start ``prune`` of a small MLP in a subprocess whose export writes slowly."""
    script = tmp_path / "slow_cli.py"
    script.write_text(SLOW_CLI)
    source = tmp_path / "source" / "mlp.pt"
    source.parent.mkdir()
    torch.save(build_mlp([784, 32, 10], seed=0).state_dict(), source)

    def start(out: Path) -> subprocess.Popen:
        command = [sys.executable, str(script), "prune", str(source), "--rank", "4", "--out"]
        return subprocess.Popen(
            [*command, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
        )

    return start


def writing(folder: Path) -> Callable[[], bool]:
    """True once a temporary file in ``folder`` has its first bytes (torch.save is under way)."""
    return lambda: any(p.stat().st_size > 0 for p in temps(folder))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda sig: sig.name)
def test_signal_during_export_cleans_up_and_exits_130(
    slow_prune: Callable[[Path], subprocess.Popen], tmp_path: Path, sig: signal.Signals
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    proc = slow_prune(folder / "pruned.pt")
    wait_for(writing(folder), proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.decode().splitlines() == ["rmt-gui: interrupted"]
    assert stdout == b""
    assert list(folder.iterdir()) == []


@pytest.mark.slow
def test_sigkill_leftover_is_removed_by_the_next_export(
    slow_prune: Callable[[Path], subprocess.Popen], tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    proc = slow_prune(folder / "pruned.pt")
    wait_for(writing(folder), proc)
    proc.kill()
    proc.communicate(timeout=60)
    leftover = temps(folder)
    assert len(leftover) == 1 and f"-{proc.pid}." in leftover[0].name
    assert not (folder / "pruned.pt").exists()
    export_model(build_mlp([784, 8, 10], seed=0), folder / "fresh.pt")
    assert leftover[0].exists(), "a leftover only seconds old is given time"
    old = time.time() - 60
    os.utime(leftover[0], (old, old))
    export_model(build_mlp([784, 8, 10], seed=1), folder / "again.pt")
    assert sorted(p.name for p in folder.iterdir()) == ["again.pt", "fresh.pt"]


@pytest.mark.slow
def test_closed_stdout_pipe_ends_quietly(tmp_path: Path) -> None:
    path = tmp_path / "many.npz"
    rng = np.random.default_rng(0)
    layers = {f"layer{i:04d}": rng.standard_normal((8, 12)).astype(np.float32) for i in range(1500)}
    np.savez(path, **layers)
    with subprocess.Popen(
        [sys.executable, "-m", "rmt_gui", "analyze", "--json", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    ) as proc:  # fmt: skip
        assert proc.stdout.readline() == b"{\n"
        proc.stdout.close()
        stderr = proc.stderr.read()
        status = proc.wait(timeout=60)
    assert stderr == b""
    # Some kernels (this VM's among them) let writes to a closed pipe succeed: then 0 is right.
    assert status in (0, 141)


def raising(exc: BaseException) -> Callable[..., int]:
    """A command body that fails with ``exc``."""

    def run(args: object) -> int:
        raise exc

    return run


def wrapped_interrupt() -> RuntimeError:
    """What torch raises when Ctrl+C hits its writer: a RuntimeError in the interrupt's context."""
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos") from None
    except RuntimeError as exc:
        return exc


def file_error_from_interrupt() -> FileError:
    """A loader's one-line error raised while handling torch's wrapped interrupt."""
    error = FileError("m.pt", "truncated or corrupt PyTorch file")
    error.__cause__ = wrapped_interrupt()
    return error


@pytest.mark.parametrize("make", [KeyboardInterrupt, wrapped_interrupt, file_error_from_interrupt])
def test_interrupts_are_reported_as_interrupted(
    make: Callable[[], BaseException],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setattr(analyze, "run", raising(make()))
    assert main(["analyze", "m.pt"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "rmt-gui: interrupted\n" and captured.out == ""


def test_other_failures_keep_their_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(analyze, "run", raising(FileError("m.pt", "is empty")))
    assert main(["analyze", "m.pt"]) == 1
    assert capsys.readouterr().err == "rmt-gui: error: m.pt: is empty\n"
    monkeypatch.setattr(analyze, "run", raising(RuntimeError("a bug")))
    assert main(["analyze", "m.pt"]) == 2
    assert capsys.readouterr().err.startswith("rmt-gui: internal error: RuntimeError: a bug")
    monkeypatch.setattr(analyze, "run", raising(SystemExit(3)))
    with pytest.raises(SystemExit):
        main(["analyze", "m.pt"])


def test_sigterm_unwinds_the_command_and_handlers_are_restored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    reached: list[str] = []

    def run(args: object) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            reached.append("cleanup")
        return 0

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(analyze, "run", run)
    started = time.monotonic()
    assert main(["analyze", "m.pt"]) == 130
    assert time.monotonic() - started < 4
    assert reached == ["cleanup"]
    assert capsys.readouterr().err == "rmt-gui: interrupted\n"
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_the_app_keeps_the_default_signal_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setattr(
        open_command, "run", lambda args: seen.append(signal.getsignal(signal.SIGTERM)) or 0
    )
    assert main(["open", "m.pt"]) == 0
    assert seen == [signal.SIG_DFL]


def test_broken_pipe_in_process_is_quiet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(analyze, "run", raising(BrokenPipeError(32, "Broken pipe")))
    assert main(["analyze", "m.pt"]) == cli.signals.CLOSED_PIPE_STATUS == 141
    assert capsys.readouterr().err == ""
