"""``rmt-gui evaluate``: accuracy, loss and time, from every runnable format, data from anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rmt_gui.cli import main
from rmt_gui.model.data import load_mnist
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.export import export_model
from rmt_gui.model.tree import tree_from_state_dict
from tests.helpers.model_files import PlainNet, centroid_state, save_torchscript
from tests.helpers.paths import DATA_DIR

JSON_KEYS = {"file", "params", "accuracy", "loss", "count", "seconds"}


@pytest.fixture(scope="module")
def classifier() -> torch.nn.Module:
    """A 784 -> 10 nearest-class-mean classifier built from 2000 training images."""
    train = load_mnist(DATA_DIR, train=True).head(2000)
    return tree_from_state_dict(centroid_state(train.images, train.labels))


@pytest.fixture(scope="module")
def expected(classifier: torch.nn.Module):
    return evaluate(classifier, load_mnist(DATA_DIR))


def evaluate_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["evaluate", *args, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


@pytest.mark.parametrize("fmt", ["rmt-gui", "state-dict", "safetensors", "torchscript"])
def test_every_runnable_format(
    classifier: torch.nn.Module, expected, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture
) -> None:
    path = export_model(classifier, tmp_path / "model.bin", fmt)
    doc = evaluate_json(capsys, str(path), "--data", str(DATA_DIR))
    assert set(doc) == JSON_KEYS
    assert doc["count"] == 10_000 and doc["params"] == 7850
    assert doc["accuracy"] == expected.accuracy > 0.7
    assert doc["loss"] == pytest.approx(expected.loss, rel=1e-6)


def test_text_output_and_environment_data_root(
    classifier: torch.nn.Module,
    expected,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    path = export_model(classifier, tmp_path / "model.rmt")
    monkeypatch.setenv("RMT_GUI_DATA", str(DATA_DIR))
    assert main(["evaluate", str(path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{path}: accuracy {100 * expected.accuracy:.2f}%  loss ")
    assert "10000 test images" in line and "7,850 parameters" in line


def test_trusted_module_and_torchscript_module(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    net = PlainNet()
    pickled = tmp_path / "whole.pt"
    torch.save(net, pickled)
    assert main(["evaluate", str(pickled), "--data", str(DATA_DIR)]) == 1
    assert "--trust" in capsys.readouterr().err
    trusted = evaluate_json(capsys, str(pickled), "--trust", "--data", str(DATA_DIR))
    scripted = evaluate_json(
        capsys, str(save_torchscript(net, tmp_path / "net.ts")), "--data", str(DATA_DIR)
    )
    direct = evaluate(net, load_mnist(DATA_DIR))
    assert trusted["accuracy"] == scripted["accuracy"] == direct.accuracy


def test_explicit_data_wins_over_environment(
    classifier: torch.nn.Module,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    path = export_model(classifier, tmp_path / "model.rmt")
    monkeypatch.setenv("RMT_GUI_DATA", str(tmp_path / "nowhere"))
    assert evaluate_json(capsys, str(path), "--data", str(DATA_DIR))["count"] == 10_000
    assert main(["evaluate", str(path)]) == 1
    assert capsys.readouterr().err.startswith(f"rmt-gui: error: {tmp_path / 'nowhere'}: MNIST")
