"""``rmt-gui prune``: rules, layer selection, factorisation, JSON, and a reloadable result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rmt_gui.cli import main
from rmt_gui.model.data import load_mnist
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.spectral import bema_fit, keep_rank, spectrum_of
from tests.helpers.model_files import save_torchscript, sequential, trained_mlp
from tests.helpers.paths import DATA_DIR

ROW_KEYS = {
    "name", "shape", "n_signal", "good_fit", "rank_before", "rank_after", "factorized",
    "params_before", "params_after", "skipped",
}  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dict of a briefly trained 784-64-10 MLP (its first layer has spikes)."""
    train = load_mnist(DATA_DIR, train=True).head(4000)
    path = tmp_path_factory.mktemp("trained") / "trained.pt"
    torch.save(trained_mlp(train.images, train.labels).state_dict(), path)
    return path


def prune_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["prune", *args, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


def test_bema_paper_rule_with_json(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "pruned.rmt"
    doc = prune_json(capsys, str(trained), "--bema", "--out", str(out))
    assert set(doc) == {
        "file", "out", "rule", "params_before", "params_after", "layers", "export",
    }  # fmt: skip
    assert doc["out"] == str(out) and "BEMA" in doc["rule"] and "0.45" in doc["rule"]
    weight = torch.load(trained, weights_only=True)["fc1.weight"].numpy()
    fit = bema_fit(spectrum_of(weight))
    first, second = doc["layers"]
    assert set(first) == ROW_KEYS
    assert first["name"] == "fc1.weight" and first["shape"] == [64, 784]
    assert first["n_signal"] == fit.n_signal > 0
    assert first["rank_after"] == keep_rank(fit.n_signal, 64, 0.45, 10)
    assert first["rank_before"] == 64 and not first["factorized"]
    assert second["rank_after"] >= 10
    assert doc["params_before"] == doc["params_after"] == 784 * 64 + 64 + 64 * 10 + 10
    checkpoint = open_checkpoint(out)
    assert checkpoint.format == "rmt-gui"
    assert checkpoint.history[-1] == doc["rule"]
    kept = torch.linalg.matrix_rank(torch.tensor(checkpoint.read("fc1.weight")), rtol=1e-5)
    assert int(kept) == first["rank_after"]


def test_keep_noise_changes_the_rank(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    none = prune_json(
        capsys, str(trained), "--bema", "--keep-noise", "0", "--min-rank", "1",
        "--layer", "fc1.weight", "--out", str(tmp_path / "a.pt"),
    )["layers"][0]  # fmt: skip
    half = prune_json(
        capsys, str(trained), "--bema", "--keep-noise", "0.5", "--min-rank", "1",
        "--layer", "fc1.weight", "--out", str(tmp_path / "b.pt"),
    )["layers"][0]  # fmt: skip
    assert none["rank_after"] == none["n_signal"]
    assert half["rank_after"] == none["n_signal"] + (64 - none["n_signal"]) // 2


def test_rank_factorize_then_reload_and_evaluate(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "small.rmt"
    doc = prune_json(capsys, str(trained), "--rank", "12", "--factorize", "--out", str(out))
    first, second = doc["layers"]
    assert first["factorized"] and first["rank_after"] == 12
    assert first["params_after"] == 12 * (784 + 64) + 64
    assert not second["factorized"]
    assert doc["params_after"] == first["params_after"] + second["params_after"]
    checkpoint = open_checkpoint(out)
    assert [info.name for info in checkpoint.layers()] == [
        "fc1.0.weight", "fc1.1.weight", "fc2.weight",
    ]  # fmt: skip
    assert main(["evaluate", str(out), "--data", str(DATA_DIR), "--json"]) == 0
    pruned = json.loads(capsys.readouterr().out)
    assert pruned["params"] == doc["params_after"]
    assert main(["evaluate", str(trained), "--data", str(DATA_DIR), "--json"]) == 0
    original = json.loads(capsys.readouterr().out)
    assert original["accuracy"] > 0.85
    assert pruned["accuracy"] > original["accuracy"] - 0.05
    data = load_mnist(DATA_DIR)
    assert evaluate(checkpoint.build_model(), data).accuracy == pruned["accuracy"]


def test_shrink_keeps_shapes_and_ranks(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "shrunk.safetensors"
    doc = prune_json(capsys, str(trained), "--shrink", "0.5", "--out", str(out))
    assert "shrink" in doc["rule"]
    assert all(row["rank_after"] == row["rank_before"] for row in doc["layers"])
    assert doc["params_after"] == doc["params_before"]
    original = torch.load(trained, weights_only=True)["fc1.weight"].double()
    shrunk = torch.tensor(open_checkpoint(out).read("fc1.weight")).double()
    s0, s1 = torch.linalg.svdvals(original), torch.linalg.svdvals(shrunk)
    signal = doc["layers"][0]["n_signal"]
    torch.testing.assert_close(s1[:signal], s0[:signal], rtol=1e-5, atol=0)
    torch.testing.assert_close(s1[signal:], 0.5 * s0[signal:], rtol=1e-4, atol=1e-6)


def test_layer_selection_leaves_other_layers_alone(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "one.pt"
    doc = prune_json(
        capsys, str(trained), "--rank", "3", "--min-rank", "1", "--layer", "fc2.weight",
        "--out", str(out), "--format", "state-dict",
    )  # fmt: skip
    assert [row["name"] for row in doc["layers"]] == ["fc2.weight"]
    original = torch.load(trained, weights_only=True)
    saved = torch.load(out, weights_only=True)
    torch.testing.assert_close(saved["fc1.weight"], original["fc1.weight"], rtol=0, atol=0)
    assert int(torch.linalg.matrix_rank(saved["fc2.weight"], rtol=1e-5)) == 3


def test_text_output(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "t.rmt"
    assert main(["prune", str(trained), "--rank", "5", "--factorize", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{trained} -> {out}  (rank 5, factorised)"
    assert "fc1.weight" in lines[1] and "rank 64 -> 5" in lines[1] and "factorised" in lines[1]
    assert f"params {784 * 64 + 64:,} -> {5 * (784 + 64) + 64:,}" in lines[1]
    assert lines[-2].startswith("  total parameters")
    assert lines[-1].startswith("  export: size")


def test_force_is_needed_to_replace(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "exists.rmt"
    out.write_bytes(b"keep me")
    assert main(["prune", str(trained), "--rank", "5", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        f"rmt-gui: error: {out}: already exists; choose another name or pass --force to "
        "replace it\n"
    )
    assert out.read_bytes() == b"keep me"
    assert main(["prune", str(trained), "--rank", "5", "--out", str(out), "--force"]) == 0
    assert open_checkpoint(out).format == "rmt-gui"
    assert main(["prune", str(trained), "--rank", "5", "--out", str(trained)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_torchscript_input_cannot_be_factorised(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = save_torchscript(sequential(), tmp_path / "net.pt")
    out = tmp_path / "out.ts"
    assert main(["prune", str(path), "--rank", "4", "--out", str(out)]) == 0
    assert open_checkpoint(out).format == "torchscript"
    capsys.readouterr()
    assert (
        main(["prune", str(path), "--rank", "1", "--factorize", "--out", str(out), "--force"]) == 1
    )
    err = capsys.readouterr().err
    assert err.startswith(f"rmt-gui: error: {path}: a TorchScript model cannot be factorised")


def test_npy_layer_prunes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "layer.npy"
    np.save(path, np.random.default_rng(0).standard_normal((40, 60)).astype(np.float32))
    out = tmp_path / "layer.rmt"
    doc = prune_json(capsys, str(path), "--rank", "7", "--min-rank", "1", "--out", str(out))
    assert [(row["name"], row["rank_after"]) for row in doc["layers"]] == [("layer", 7)]
    kept = torch.linalg.matrix_rank(torch.tensor(open_checkpoint(out).read("layer")), rtol=1e-5)
    assert int(kept) == 7
