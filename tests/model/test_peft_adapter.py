"""PEFT LoRA adapters: one layer per target module, the update's spectrum from its factors."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from rmt_gui.cli import main
from rmt_gui.model.opener import open_checkpoint
from tests.helpers.cli_errors import error_line
from tests.helpers.hf_folders import lora_factors, write_adapter

QUERY = "encoder.layer.0.attention.self.query"
DOWN = "encoder.layer.1.output.dense"
PLANTED = {QUERY: (24, 24, [3.0, 1.0, 0.25]), DOWN: (24, 48, [2.0, 0.5, 0.1])}
R, ALPHA = 3, 6.0


def planted_updates(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{module: (B, A)}`` whose products have exactly the :data:`PLANTED` singular values."""
    rng = np.random.default_rng(seed)
    return {
        name: lora_factors(rng, out, inp, values) for name, (out, inp, values) in PLANTED.items()
    }


def dense_values(b: np.ndarray, a: np.ndarray, scale: float) -> np.ndarray:
    """Reference: the singular values of ``scale · B · A`` formed densely."""
    return np.linalg.svd(scale * (b.astype(np.float64) @ a), compute_uv=False)


@pytest.mark.parametrize("suffix", [".safetensors", ".bin"])
def test_updates_are_named_after_the_base_module(suffix: str, tmp_path: Path) -> None:
    checkpoint = open_checkpoint(write_adapter(tmp_path, planted_updates(), R, ALPHA, suffix))
    layers = {info.name: info for info in checkpoint.layers()}
    assert set(layers) == {QUERY, DOWN}
    assert layers[DOWN].shape == (24, 48)
    assert layers[DOWN].adapter_rank == R
    assert layers[DOWN].params == R * (24 + 48)
    assert layers[QUERY].role.role == "attention_query"
    assert not layers[QUERY].prunable
    assert "LoRA adapter" in checkpoint.detail


@pytest.mark.parametrize(
    ("config", "scale"),
    [({}, ALPHA / R), ({"use_rslora": True}, ALPHA / math.sqrt(R))],
)
def test_spectrum_equals_the_dense_update(config: dict, scale: float, tmp_path: Path) -> None:
    updates = planted_updates()
    checkpoint = open_checkpoint(write_adapter(tmp_path, updates, R, ALPHA, **config))
    for name, (b, a) in updates.items():
        spectrum = checkpoint.low_rank_spectrum(name)
        assert spectrum is not None
        expected = dense_values(b, a, scale)
        np.testing.assert_allclose(spectrum.singular_values, expected, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(spectrum.singular_values[:R], scale * np.array(PLANTED[name][2]),
                                   rtol=1e-5)  # fmt: skip
        np.testing.assert_allclose(checkpoint.read(name), scale * (b @ a), rtol=1e-5, atol=1e-6)


def test_embedding_update_is_the_transposed_product(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    b, a = lora_factors(rng, 16, 50, [2.0, 1.0])  # B (dim, r), A (r, rows)
    save_file(
        {"base_model.model.embed_tokens.lora_embedding_A": a,
         "base_model.model.embed_tokens.lora_embedding_B": b},
        str(tmp_path / "adapter_model.safetensors"),
    )  # fmt: skip
    config = {"peft_type": "LORA", "r": 2, "lora_alpha": 2}
    (tmp_path / "adapter_config.json").write_text(json.dumps(config))
    checkpoint = open_checkpoint(tmp_path)
    info = checkpoint.layer("embed_tokens")
    assert (info.shape, info.role.role) == ((50, 16), "embedding")
    np.testing.assert_allclose(checkpoint.read("embed_tokens"), (b @ a).T, rtol=1e-5, atol=1e-6)
    values = checkpoint.low_rank_spectrum("embed_tokens").singular_values
    np.testing.assert_allclose(values[:3], [2.0, 1.0, 0.0], atol=1e-6)


def test_patterns_override_rank_and_alpha(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    updates = {QUERY: lora_factors(rng, 24, 24, [1.0, 0.5]), DOWN: lora_factors(rng, 24, 48, [1.0])}
    folder = write_adapter(
        tmp_path, updates, r=2, alpha=4.0, rank_pattern={"output.dense": 1},
        alpha_pattern={"output.dense": 3.0},
    )  # fmt: skip
    checkpoint = open_checkpoint(folder)
    assert checkpoint.layer(DOWN).adapter_rank == 1
    assert checkpoint.low_rank_spectrum(DOWN).singular_values[0] == pytest.approx(3.0, rel=1e-6)
    assert checkpoint.low_rank_spectrum(QUERY).singular_values[0] == pytest.approx(2.0, rel=1e-6)


def test_analyze_json_reports_values_not_a_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_adapter(tmp_path, planted_updates(), R, ALPHA)
    assert main(["analyze", str(folder), "--json"]) == 0
    layers = {layer["name"]: layer for layer in json.loads(capsys.readouterr().out)["layers"]}
    query = layers[QUERY]
    np.testing.assert_allclose(query["singular_values"], [6.0, 2.0, 0.5], rtol=1e-5)
    assert query["n_signal"] == R
    assert query["adapter_rank"] == R
    assert query["sv_max"] == pytest.approx(6.0, rel=1e-6)
    assert query["sigma2"] is None and query["good_fit"] is None
    assert "adapter update" in query["note"]


def test_a_zero_update_has_rank_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b, a = np.zeros((24, 2), np.float32), np.ones((2, 24), np.float32)
    folder = write_adapter(tmp_path, {QUERY: (b, a)}, r=2, alpha=2.0)
    assert main(["analyze", str(folder), "--json"]) == 0
    layer = json.loads(capsys.readouterr().out)["layers"][0]
    assert layer["n_signal"] == 0
    assert layer["singular_values"] == []


def _unchained(folder: Path) -> None:
    """Rewrite the adapter with a lora_A of the wrong rank."""
    rng = np.random.default_rng(2)
    b, _ = lora_factors(rng, 24, 24, [1.0, 1.0])
    write_adapter(folder, {QUERY: (b, np.ones((3, 24), np.float32))}, r=2, alpha=2.0)


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (_unchained, "do not chain"),
        (lambda f: write_adapter(f, planted_updates(), R, ALPHA, use_dora=True), "DoRA"),
        (lambda f: write_adapter(f, planted_updates(), R, ALPHA, peft_type="IA3"), "IA3"),
        (lambda f: write_adapter(f, planted_updates(), 0, ALPHA), "r must be a positive"),
        (lambda f: (f / "adapter_model.safetensors").unlink(), "adapter_model"),
    ],
)
def test_broken_adapters_fail_in_one_line(
    spoil: Callable[[Path], object],
    problem: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_adapter(tmp_path, planted_updates(), R, ALPHA)
    spoil(tmp_path)
    assert problem in error_line(capsys, "analyze", str(tmp_path))
