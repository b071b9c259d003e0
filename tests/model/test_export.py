"""Export to every format: atomic, never overwriting without ``force``, reopening identically."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from rmt_gui.errors import FileError
from rmt_gui.model import export as export_module
from rmt_gui.model.data import load_mnist
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.export import atomic_write, export_model
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.surgery import truncate
from rmt_gui.model.tree import NotRunnableError, build_mlp, tree_from_state_dict
from tests.helpers.model_files import mlp
from tests.helpers.paths import DATA_DIR

FORMATS = {
    "rmt-gui": ("model.rmt", "rmt-gui"),
    "state-dict": ("model.pt", "state-dict"),
    "safetensors": ("model.safetensors", "safetensors"),
    "torchscript": ("model.ts", "torchscript"),
}


@pytest.fixture(scope="module")
def pruned() -> torch.nn.Module:
    """784-32-10 with fc1 factorised at rank 6 (so the architecture matters)."""
    model, _ = truncate(mlp(), "fc1.weight", 6, "always")
    return model


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_round_trip(tmp_path: Path, pruned: torch.nn.Module, fmt: str) -> None:
    name, opened_as = FORMATS[fmt]
    path = export_model(pruned, tmp_path / name, fmt, history=["opened", "rank 6"])
    assert path == tmp_path / name
    assert os.listdir(tmp_path) == [name]
    checkpoint = open_checkpoint(path)
    assert checkpoint.format == opened_as
    expected = {key: value for key, value in pruned.state_dict().items() if value.ndim == 2}
    assert [info.name for info in checkpoint.layers()] == list(expected)
    for key, value in expected.items():
        torch.testing.assert_close(torch.tensor(checkpoint.read(key)), value.detach())
    data = load_mnist(DATA_DIR).head(500)
    rebuilt = evaluate(checkpoint.build_model(), data)
    original = evaluate(pruned, data)
    assert rebuilt.accuracy == original.accuracy
    assert rebuilt.loss == pytest.approx(original.loss, rel=1e-6)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.safetensors", "safetensors"), ("a.ts", "torchscript"), ("a.jit", "torchscript"),
     ("a.pt", "rmt-gui"), ("a.pth", "rmt-gui")],
)  # fmt: skip
def test_format_inferred_from_the_name(
    tmp_path: Path, pruned: torch.nn.Module, name: str, fmt: str
) -> None:
    assert open_checkpoint(export_model(pruned, tmp_path / name)).format == fmt


def test_format_given_explicitly_wins_over_the_suffix(
    tmp_path: Path, pruned: torch.nn.Module
) -> None:
    path = export_model(pruned, tmp_path / "weights.bin", "safetensors")
    assert open_checkpoint(path).format == "safetensors"
    with pytest.raises(FileError, match="unknown export format"):
        export_model(pruned, tmp_path / "x.tflite", "tflite")


def test_weights_only_model_exports_but_not_as_torchscript(tmp_path: Path) -> None:
    model = tree_from_state_dict({"a.weight": torch.randn(5, 7)})
    export_model(model, tmp_path / "w.pt", "state-dict")
    assert open_checkpoint(tmp_path / "w.pt").layers()[0].shape == (5, 7)
    with pytest.raises(NotRunnableError):
        export_model(model, tmp_path / "w.ts")
    assert sorted(os.listdir(tmp_path)) == ["w.pt"]


def test_refuses_existing_files_and_the_input(tmp_path: Path, pruned: torch.nn.Module) -> None:
    source = tmp_path / "source.pt"
    export_model(mlp(), source, "state-dict")
    before = source.read_bytes()
    with pytest.raises(FileError, match=r"already exists.*--force"):
        export_model(pruned, source, "state-dict")
    assert source.read_bytes() == before
    export_model(pruned, source, "state-dict", force=True)
    assert open_checkpoint(source).layers()[0].name == "fc1.0.weight"
    assert os.listdir(tmp_path) == ["source.pt"]


def test_missing_folder_is_a_clear_error(tmp_path: Path, pruned: torch.nn.Module) -> None:
    with pytest.raises(FileError, match="does not exist"):
        export_model(pruned, tmp_path / "no" / "model.pt")


def test_failing_writer_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.pt"

    def write(handle) -> None:
        handle.write(b"partial data")
        raise OSError("disk full")

    with pytest.raises(FileError, match=r"could not be written \(disk full\)"):
        atomic_write(target, write)
    assert os.listdir(tmp_path) == []


def test_failed_export_keeps_the_old_file(
    tmp_path: Path, pruned: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.rmt"
    export_model(mlp(), target)
    before = target.read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("serialiser crashed")

    monkeypatch.setattr(export_module, "save_native", broken)
    with pytest.raises(RuntimeError, match="serialiser crashed"):
        export_model(pruned, target, force=True)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.rmt"]


def test_export_gets_normal_file_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = export_model(build_mlp([784, 8, 10], seed=0), tmp_path / "m.pt")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o600)
    export_model(build_mlp([784, 8, 10], seed=1), path, force=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
