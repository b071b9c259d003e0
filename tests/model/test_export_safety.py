"""Exports lose nothing: links and special files at the target, leftovers of killed writers, OS
errors, interrupts, and a default format that keeps a runnable model runnable."""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
import torch
from torch import nn

from rmt_gui.cli import main
from rmt_gui.errors import FileError
from rmt_gui.model import atomic_file
from rmt_gui.model.atomic_file import TEMP_PATTERN, atomic_write, remove_stale_temps
from rmt_gui.model.data import load_mnist
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.export import default_format, export_model, weights_only_warning
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.tree import NotRunnableError, build_mlp
from tests.helpers.model_files import SmallCnn, mlp, save_torchscript
from tests.helpers.paths import DATA_DIR

OLD = 60.0
"""Seconds since a leftover was last written: well past the grace a live writer gets."""


def write_bytes(data: bytes) -> Callable[[BinaryIO], object]:
    """A writer callback for :func:`atomic_write`."""
    return lambda handle: handle.write(data)


def names(folder: Path) -> list[str]:
    """Every entry of ``folder``, hidden ones included, sorted."""
    return sorted(os.listdir(folder))


def dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def leftover(folder: Path, target: str, pid: int, age: float, token: str = "abcd_123") -> Path:
    """A temporary file as a writer with ``pid`` leaves it, last written ``age`` seconds ago."""
    path = folder / f".{target}.rmtgui-{pid}.{token}.tmp"
    path.write_bytes(b"partial")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


# --- links and special files at the target -------------------------------------------------


def test_dangling_link_is_refused_then_replaced_itself(tmp_path: Path) -> None:
    link = tmp_path / "out.pt"
    missing = tmp_path / "elsewhere" / "target.pt"
    link.symlink_to(missing)
    with pytest.raises(FileError, match=r"already exists \(a symbolic link\).*--force"):
        atomic_write(link, write_bytes(b"new"))
    assert link.is_symlink()
    atomic_write(link, write_bytes(b"new"), force=True)
    assert not link.is_symlink() and link.read_bytes() == b"new"
    assert not missing.parent.exists()


def test_link_to_a_file_is_refused_and_force_leaves_that_file_alone(tmp_path: Path) -> None:
    original = tmp_path / "keep.pt"
    original.write_bytes(b"precious")
    link = tmp_path / "out.pt"
    link.symlink_to(original)
    with pytest.raises(FileError, match="already exists"):
        atomic_write(link, write_bytes(b"new"))
    atomic_write(link, write_bytes(b"new"), force=True)
    assert original.read_bytes() == b"precious"
    assert not link.is_symlink() and link.read_bytes() == b"new"


def test_folders_and_devices_are_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "to-folder").symlink_to(tmp_path / "folder")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target, problem in (
        (tmp_path / "folder", "is a folder"),
        (tmp_path / "to-folder", "is a folder"),
        (fifo, "special file"),
        (Path(os.devnull), "special file"),
    ):
        with pytest.raises(FileError, match=problem):
            atomic_write(target, write_bytes(b"x"), force=True)
    assert names(tmp_path) == ["fifo", "folder", "to-folder"]
    assert Path(os.devnull).is_char_device()


def test_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(FileError, match=r"folder .*plain is not a folder"):
        atomic_write(tmp_path / "plain" / "out.pt", write_bytes(b"x"))


def test_very_long_name_gets_a_legal_temporary_name(tmp_path: Path) -> None:
    target = tmp_path / ("m" * 250 + ".pt")
    seen: list[str] = []

    def write(handle: BinaryIO) -> None:
        seen.extend(names(tmp_path))
        handle.write(b"ok")

    atomic_write(target, write)
    assert target.read_bytes() == b"ok"
    assert len(seen) == 1 and TEMP_PATTERN.fullmatch(seen[0]) and f"-{os.getpid()}." in seen[0]
    with pytest.raises(FileError, match="too long"):
        atomic_write(tmp_path / ("m" * 300), write_bytes(b"x"))


# --- OS errors and interrupts ----------------------------------------------------------------


class FullDisk:
    """A file that accepts ``room`` bytes, then fails as a full disk does."""

    def __init__(self, handle: BinaryIO, room: int) -> None:
        self.handle, self.room = handle, room

    def write(self, data: bytes) -> int:
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def test_full_disk_inside_torch_save_is_a_one_line_file_error(tmp_path: Path) -> None:
    target = tmp_path / "big.pt"
    tensors = {"w": torch.zeros(200_000)}
    with pytest.raises(FileError) as info:
        atomic_write(target, lambda handle: torch.save(tensors, FullDisk(handle, 100_000)))
    assert str(info.value) == f"{target}: could not be written (No space left on device)"
    assert names(tmp_path) == []


def test_folder_without_room_for_a_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(FileError, match=r"cannot create a file in folder .*\(Permission denied\)"):
        atomic_write(tmp_path / "out.pt", write_bytes(b"x"))


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_interrupt_removes_the_temporary_file_and_propagates(
    tmp_path: Path, stop: type[BaseException]
) -> None:
    def write(handle: BinaryIO) -> None:
        handle.write(b"half")
        raise stop

    with pytest.raises(stop):
        atomic_write(tmp_path / "out.pt", write)
    assert names(tmp_path) == []


# --- leftovers of killed writers ---------------------------------------------------------------


def test_only_our_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    gone = dead_pid()
    stale = [
        leftover(tmp_path, "model.pt", gone, OLD),
        leftover(tmp_path, "other name.rmt", gone, OLD, token="zz99zz99"),
        leftover(tmp_path, "reused.pt", os.getpid(), OLD),
        leftover(tmp_path, "abandoned.pt", os.getppid(), 2 * atomic_file.ABANDONED_SECONDS),
    ]
    kept = [
        leftover(tmp_path, "young.pt", gone, 0.0),
        leftover(tmp_path, "live.pt", os.getppid(), OLD),
        leftover(tmp_path, "short.pt", gone, OLD, token="abc"),
    ]
    for name in (".model.pt.12345.abcdefgh.tmp", "notes.tmp", f".x.rmtgui-{gone}.abcdefgh.tmp~"):
        (tmp_path / name).write_bytes(b"not ours")
        kept.append(tmp_path / name)
    folder_like = tmp_path / f".d.rmtgui-{gone}.abcdefgh.tmp"
    folder_like.mkdir()
    link_like = tmp_path / f".l.rmtgui-{gone}.abcdefgh.tmp"
    link_like.symlink_to(kept[-1])
    assert sorted(remove_stale_temps(tmp_path)) == sorted(stale)
    assert all(not path.exists() for path in stale)
    assert all(path.exists() for path in [*kept, folder_like, link_like])


def test_a_write_in_progress_is_never_taken_for_a_leftover(tmp_path: Path) -> None:
    def write(handle: BinaryIO) -> None:
        ours = next(p for p in tmp_path.iterdir() if TEMP_PATTERN.fullmatch(p.name))
        os.utime(ours, (time.time() - OLD, time.time() - OLD))
        atomic_write(tmp_path / "second.pt", write_bytes(b"2"))
        assert ours.exists()
        handle.write(b"1")

    atomic_write(tmp_path / "first.pt", write)
    assert names(tmp_path) == ["first.pt", "second.pt"]


def test_cleaning_a_missing_folder_is_no_failure(tmp_path: Path) -> None:
    assert remove_stale_temps(tmp_path / "nowhere") == []


# --- a default format that keeps the model runnable --------------------------------------------


@pytest.fixture(scope="module")
def scripted_cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TorchScript CNN file (conv + linear), which our own format cannot rebuild."""
    torch.manual_seed(0)
    return save_torchscript(SmallCnn(), tmp_path_factory.mktemp("cnn") / "cnn.pt")


def test_default_format_follows_the_model(scripted_cnn: Path) -> None:
    cnn = open_checkpoint(scripted_cnn).build_model()
    for name in ("out.pt", "out.rmt", "out.bin", "out"):
        assert default_format(cnn, name) == "torchscript"
        assert default_format(mlp(), name) == "rmt-gui"
    assert default_format(cnn, "out.safetensors") == "safetensors"
    assert default_format(mlp(), "out.TS") == "torchscript"
    assert weights_only_warning(cnn, "out.pt", "torchscript") is None
    assert weights_only_warning(mlp(), "out.pt", "state-dict") is None
    message = weights_only_warning(cnn, "out.pt", "state-dict")
    assert message.startswith("out.pt holds weights only") and "cannot run it" in message


@pytest.mark.slow
def test_pruned_scripted_cnn_stays_runnable_by_default(
    scripted_cnn: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "pruned.pt"
    assert main(["prune", str(scripted_cnn), "--rank", "3", "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""
    assert open_checkpoint(out).format == "torchscript"
    assert main(["evaluate", str(out), "--data", str(DATA_DIR), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and '"count": 10000' in captured.out


@pytest.mark.parametrize("fmt", ["rmt-gui", "state-dict", "safetensors"])
def test_choosing_a_weights_only_format_warns_in_one_line(
    scripted_cnn: Path, tmp_path: Path, capsys: pytest.CaptureFixture, fmt: str
) -> None:
    out = tmp_path / "weights.bin"
    assert (
        main(["prune", str(scripted_cnn), "--rank", "3", "--out", str(out), "--format", fmt]) == 0
    )
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"rmt-gui: warning: {out} holds weights only, not the model's code: rmt-gui cannot run "
        "it as it was; use --format torchscript to keep it runnable"
    ]
    assert main(["evaluate", str(out), "--data", str(DATA_DIR)]) == 1


def test_trusted_module_wanting_flat_input_is_traced(tmp_path: Path) -> None:
    torch.manual_seed(0)
    flat = nn.Sequential(nn.Linear(784, 16), nn.Tanh(), nn.Linear(16, 10))
    path = export_model(flat, tmp_path / "flat.pt")
    rebuilt = open_checkpoint(path).build_model()
    data = load_mnist(DATA_DIR).head(300)
    assert isinstance(rebuilt, torch.jit.ScriptModule)
    assert evaluate(rebuilt, data).loss == pytest.approx(evaluate(flat, data).loss, rel=1e-6)


def test_module_that_cannot_take_mnist_is_a_clear_error(tmp_path: Path) -> None:
    odd = nn.Linear(3, 2)
    with pytest.raises(NotRunnableError, match="does not run on MNIST images"):
        export_model(odd, tmp_path / "odd.pt")
    export_model(odd, tmp_path / "odd.pt", "state-dict")
    assert names(tmp_path) == ["odd.pt"]


def test_cli_names_the_output_when_torchscript_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    weights = tmp_path / "weights.pt"
    torch.save({"a.weight": torch.randn(5, 7)}, weights)
    out = tmp_path / "out.ts"
    assert main(["prune", str(weights), "--rank", "2", "--min-rank", "1", "--out", str(out)]) == 1
    assert capsys.readouterr().err.startswith(f"rmt-gui: error: {out}: cannot rebuild")
    assert names(tmp_path) == ["weights.pt"]


def test_our_mlp_default_is_still_our_format(tmp_path: Path) -> None:
    path = export_model(build_mlp([784, 8, 10], seed=0), tmp_path / "m.pt", history=["a"])
    checkpoint = open_checkpoint(path)
    assert checkpoint.format == "rmt-gui" and checkpoint.history == ["a"]
