"""``rmt-gui analyze|prune|evaluate`` on real checkpoints and on bad or hostile files.

Every bad input runs the real command in a subprocess: non-zero exit, one line on stderr naming
the file and the problem, no traceback, nothing on stdout, and no code from the file executed.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from rmt_gui.cli import main
from rmt_gui.model.export import export_model
from rmt_gui.model.tree import build_mlp
from tests.helpers.analyze_keys import LAYER_KEYS
from tests.helpers.model_files import (
    PlainNet,
    mlp,
    safetensors_bytes,
    save_torchscript,
    sequential,
    state,
)

MARKER_NAME = "code-was-executed"


class Payload:
    """Unpickling this would run ``open(marker, 'w')``: the file must never be unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m rmt_gui ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "rmt_gui", *args],
        capture_output=True, text=True, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip


def assert_one_line_error(result: subprocess.CompletedProcess, path: Path, *problem: str) -> str:
    """Non-zero exit, nothing on stdout, one stderr line naming ``path`` and the problem."""
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"rmt-gui: error: {path}: "), lines[0]
    for part in problem:
        assert part in lines[0], lines[0]
    assert len(lines[0]) < 400
    return lines[0]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain state dict of the 784-32-10 MLP."""
    path = tmp_path_factory.mktemp("good") / "model.pt"
    torch.save(state(), path)
    return path


@pytest.mark.slow
def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "model.pt", b"")
    assert_one_line_error(run_cli("analyze", str(path)), path, "is empty")


def test_truncated_zip_archive(tmp_path: Path, good: Path) -> None:
    data = good.read_bytes()
    path = write(tmp_path / "cut.pt", data[: len(data) // 2])
    assert_one_line_error(run_cli("analyze", str(path)), path, "truncated or corrupt")


@pytest.mark.slow
def test_truncated_legacy_pickle(tmp_path: Path) -> None:
    full = tmp_path / "legacy.pt"
    torch.save(state(), full, _use_new_zipfile_serialization=False)
    data = full.read_bytes()
    path = write(tmp_path / "cut.pt", data[: len(data) // 2])
    assert_one_line_error(run_cli("analyze", str(path)), path, "truncated or corrupt PyTorch file")


def test_random_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "model.safetensors", np.random.default_rng(0).bytes(4096))
    assert_one_line_error(run_cli("analyze", str(path)), path, "not a recognised model file")


@pytest.mark.slow
def test_text_file(tmp_path: Path) -> None:
    path = write(tmp_path / "model.pth", b"epoch,loss\n1,0.3\n2,0.2\n")
    assert_one_line_error(run_cli("evaluate", str(path)), path, "not a recognised model file")


@pytest.mark.parametrize("kind", ["zip", "legacy", "raw-pickle"])
@pytest.mark.slow
def test_malicious_pickle_is_never_executed(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / MARKER_NAME
    path = tmp_path / "model.pt"
    payload = {"state_dict": state(), "hook": Payload(marker)}
    if kind == "zip":
        torch.save(payload, path)
    elif kind == "legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(Payload(marker), protocol=2))
    commands = ("analyze", "prune", "evaluate") if kind == "zip" else ("analyze",)
    for command in commands:
        extra = ["--rank", "2", "--out", str(tmp_path / "out.pt")] if command == "prune" else []
        result = run_cli(command, str(path), *extra)
        assert_one_line_error(result, path, "refused", "runs code", "--trust")
        assert not marker.exists()
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.slow
def test_pickled_module_refused_then_trusted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "whole.pt"
    torch.save(PlainNet(), path)
    line = assert_one_line_error(run_cli("analyze", str(path)), path, "--trust")
    assert "tests.helpers.model_files.PlainNet" in line
    assert main(["analyze", str(path), "--trust", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [layer["name"] for layer in doc["layers"]] == ["fc1.weight", "fc2.weight"]


@pytest.mark.slow
def test_nan_and_inf_reported_per_layer(tmp_path: Path) -> None:
    weights = build_mlp([784, 32, 16, 10], seed=0).state_dict()
    weights["fc1.weight"][3, 4] = float("nan")
    weights["fc2.weight"][0, 0] = float("inf")
    path = tmp_path / "diverged.pt"
    torch.save(weights, path)
    result = run_cli("analyze", str(path), "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert [layer["name"] for layer in doc["layers"]] == ["fc3.weight"]
    problems = {
        "fc1.weight": "NaN or infinite weights (1 NaN of 25088 entries)",
        "fc2.weight": "NaN or infinite weights (1 inf of 512 entries)",
    }
    assert doc["errors"] == [{"name": name, "error": text} for name, text in problems.items()]
    assert result.stderr.strip().splitlines() == [
        f"rmt-gui: error: {path}: layer {name}: {text}" for name, text in problems.items()
    ]


@pytest.mark.slow
def test_no_2d_weights(tmp_path: Path) -> None:
    path = tmp_path / "vectors.pt"
    torch.save({"scale": torch.ones(8), "step": torch.tensor(3)}, path)
    assert_one_line_error(run_cli("analyze", str(path)), path, "no 2-D float weights")


F32_4X4 = np.arange(16, dtype=np.float32).tobytes()
LYING_HEADERS = {
    "offsets_past_end": (
        {"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 128]}}, None, "spans bytes"
    ),
    "size_mismatch_with_shape": (
        {"w": {"dtype": "F32", "shape": [4, 8], "data_offsets": [0, 64]}}, None, "needs 128 bytes"
    ),
    "overlapping": (
        {"a": {"dtype": "F32", "shape": [2, 4], "data_offsets": [0, 32]},
         "b": {"dtype": "F32", "shape": [2, 4], "data_offsets": [16, 48]}}, None, "overlap"
    ),
    "header_longer_than_file": (
        {"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}, 10**6, "exceeds the file"
    ),
    "hole_in_data": (
        {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, None, "tensors end"
    ),
    "huge_shape": (
        {"w": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 64]}}, None, "needs"
    ),
    "boolean_shape": (
        {"w": {"dtype": "F32", "shape": [True, 16], "data_offsets": [0, 64]}}, None, "invalid shape"
    ),
    "unknown_dtype": (
        {"w": {"dtype": "Q7", "shape": [4, 4], "data_offsets": [0, 64]}}, None, "unknown dtype"
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(LYING_HEADERS))
def test_safetensors_header_that_lies(tmp_path: Path, kind: str) -> None:
    header, length, problem = LYING_HEADERS[kind]
    path = write(tmp_path / "model.safetensors", safetensors_bytes(header, F32_4X4, length))
    assert_one_line_error(run_cli("analyze", str(path)), path, problem)


def test_safetensors_header_not_json(tmp_path: Path) -> None:
    header = b"{'w': not json}"
    path = write(tmp_path / "model.safetensors", len(header).to_bytes(8, "little") + header)
    assert_one_line_error(run_cli("analyze", str(path)), path, "not valid JSON")


@pytest.mark.slow
def test_missing_data_folder(tmp_path: Path, good: Path) -> None:
    missing = tmp_path / "no-mnist-here"
    result = run_cli("evaluate", str(good), "--data", str(missing))
    assert_one_line_error(result, missing, "MNIST not found", "--data")
    assert not missing.exists()


def test_missing_data_in_default_cache(
    tmp_path: Path, good: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("RMT_GUI_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["evaluate", str(good)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    folder = tmp_path / "cache" / "rmt-gui" / "data"
    assert captured.err.startswith(f"rmt-gui: error: {folder}: MNIST not found")
    assert captured.err.count("\n") == 1


@pytest.mark.slow
def test_unknown_layer(tmp_path: Path, good: Path, capsys: pytest.CaptureFixture) -> None:
    result = run_cli("prune", str(good), "--rank", "3", "--layer", "fc7.weight", "--out", "x.pt")
    assert_one_line_error(result, good, "no layer named fc7.weight", "fc1.weight")
    assert main(["analyze", str(good), "--layer", "fc7.weight"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err
        == f"rmt-gui: error: {good}: no layer named fc7.weight (layers: fc1.weight, fc2.weight)\n"
    )


@pytest.mark.slow
def test_not_runnable_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "two.pt"
    torch.save({"a.weight": torch.randn(20, 784), "b.weight": torch.randn(10, 30)}, path)
    result = run_cli("evaluate", str(path), "--data", str(tmp_path))
    assert_one_line_error(result, path, "cannot rebuild this architecture", "spectra")


@pytest.fixture(scope="module")
def every_format(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same MLP in each format that keeps its key names."""
    folder = tmp_path_factory.mktemp("formats")
    weights = state()
    files = {
        "state-dict": folder / "a.pt",
        "training-checkpoint": folder / "b.ckpt",
        "safetensors": folder / "c.safetensors",
        "rmt-gui": folder / "d.rmt",
        "npz": folder / "e.npz",
    }
    torch.save(weights, files["state-dict"])
    torch.save({"epoch": 1, "state_dict": weights, "optimizer": {}}, files["training-checkpoint"])
    save_file(weights, files["safetensors"])
    export_model(mlp(), files["rmt-gui"])
    np.savez(files["npz"], **{key: value.numpy() for key, value in weights.items()})
    return files


@pytest.mark.parametrize(
    "fmt", ["state-dict", "training-checkpoint", "safetensors", "rmt-gui", "npz"]
)
def test_analyze_json_on_checkpoints(
    every_format: dict[str, Path], fmt: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["analyze", str(every_format[fmt]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["file"] == str(every_format[fmt])
    assert [layer["name"] for layer in doc["layers"]] == ["fc1.weight", "fc2.weight"]
    for layer in doc["layers"]:
        assert set(layer) == LAYER_KEYS
    assert doc["layers"][0]["shape"] == [32, 784]
    assert doc["layers"][0]["params"] == 32 * 784 + 32


def test_analyze_table_says_format_and_source(
    every_format: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    assert main(["analyze", str(every_format["training-checkpoint"])]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "training-checkpoint" in first and "'state_dict'" in first


def test_analyze_selected_layer_and_torchscript(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = save_torchscript(sequential(), tmp_path / "net.pt")
    assert main(["analyze", str(path), "--json", "--layer", "2.weight"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [layer["name"] for layer in doc["layers"]] == ["2.weight"]
