"""Hugging Face model folders: single, sharded and ``.bin`` weights read as one checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from rmt_gui.cli import main
from rmt_gui.model.analysis import LayerFailure, analyze_layers
from rmt_gui.model.checkpoint import Checkpoint
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.spectral.bema import MIN_RELIABLE_P
from tests.helpers.cli_errors import error_line, file_error
from tests.helpers.hf_folders import (
    BLOCKS,
    HIDDEN,
    bert_like,
    write_bin,
    write_sharded,
    write_single,
)

TENSORS = bert_like()
WRITERS: dict[str, Callable[[Path], Path]] = {
    "single": lambda folder: write_single(folder, TENSORS),
    "sharded": lambda folder: write_sharded(folder, TENSORS, shards=3),
    "bin": lambda folder: write_bin(folder, TENSORS),
    "bin-sharded": lambda folder: write_sharded(folder, TENSORS, shards=2, suffix=".bin"),
}


def spike_counts(checkpoint: Checkpoint) -> dict[str, int | None]:
    """Each layer's BEMA signal count as ``rmt-gui analyze`` computes it."""
    counts = {}
    for result in analyze_layers(checkpoint, min_fit_p=MIN_RELIABLE_P):
        assert not isinstance(result, LayerFailure), result
        counts[result.to_json()["name"]] = result.to_json()["n_signal"]
    return counts


@pytest.fixture(scope="module")
def single_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tensors as one plain ``.safetensors`` file."""
    path = tmp_path_factory.mktemp("file") / "model.safetensors"
    save_file(TENSORS, str(path))
    return path


@pytest.mark.parametrize("kind", list(WRITERS))
def test_folder_matches_the_single_file(kind: str, single_file: Path, tmp_path: Path) -> None:
    folder = open_checkpoint(WRITERS[kind](tmp_path / kind))
    plain = open_checkpoint(single_file)
    assert folder.format == "hf-folder"
    assert {i.name: i.shape for i in folder.layers()} == {i.name: i.shape for i in plain.layers()}
    name = "encoder.layer.1.intermediate.dense.weight"
    np.testing.assert_array_equal(folder.read(name), TENSORS[name])
    counts = spike_counts(folder)
    assert counts == spike_counts(plain)
    assert counts["encoder.layer.0.attention.self.query.weight"] == 2


def test_names_and_order_come_from_the_index(tmp_path: Path) -> None:
    folder = write_sharded(tmp_path / "m", TENSORS)
    index = folder / "model.safetensors.index.json"
    document = json.loads(index.read_text())
    reordered = dict(reversed(document["weight_map"].items()))
    index.write_text(json.dumps({"weight_map": reordered}))
    names = [info.name for info in open_checkpoint(folder).layers()]
    assert names == [name for name in reordered if TENSORS[name].ndim == 2]


def test_architecture_from_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_sharded(tmp_path / "m", TENSORS)
    checkpoint = open_checkpoint(folder)
    assert checkpoint.architecture is not None
    assert checkpoint.architecture.to_json() == {
        "model_type": "bert", "hidden_size": HIDDEN, "layers": BLOCKS,
    }  # fmt: skip
    assert checkpoint.detail.startswith(f"bert, hidden {HIDDEN}, {BLOCKS} layers; 3 shards")
    assert main(["analyze", str(folder), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["architecture"]["model_type"] == "bert"
    roles = {layer["name"]: (layer["role"], layer["block"]) for layer in document["layers"]}
    assert roles["encoder.layer.1.attention.self.key.weight"] == ("attention_key", 1)
    assert roles["embeddings.word_embeddings.weight"] == ("embedding", None)


def test_one_shard_open_at_a_time(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(write_sharded(tmp_path / "m", TENSORS, shards=3))
    assert not any(shard.is_open for shard in checkpoint.shards)
    for info in checkpoint.layers():
        checkpoint.read(info.name)
        assert sum(shard.is_open for shard in checkpoint.shards) == 1


def _drop_shard(folder: Path) -> None:
    """Delete the second shard the index names."""
    (folder / "model-00002-of-00003.safetensors").unlink()


def _index_names_a_ghost(folder: Path) -> None:
    """List a tensor in the index that no shard holds."""
    index = folder / "model.safetensors.index.json"
    document = json.loads(index.read_text())
    document["weight_map"]["ghost.weight"] = "model-00001-of-00003.safetensors"
    index.write_text(json.dumps(document))


def _escape_the_folder(folder: Path) -> None:
    """Point a tensor at a file outside the folder."""
    index = folder / "model.safetensors.index.json"
    document = json.loads(index.read_text())
    document["weight_map"]["pooler.dense.weight"] = "../elsewhere.safetensors"
    index.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("spoil", "culprit", "problem"),
    [
        (_drop_shard, "model-00002-of-00003.safetensors", "no such file"),
        (_index_names_a_ghost, "model-00001-of-00003.safetensors", "ghost.weight"),
        (_escape_the_folder, "model.safetensors.index.json", "not the name of a file"),
        (lambda f: (f / "model.safetensors.index.json").write_text("{"), "index.json", "JSON"),
        (lambda f: (f / "model.safetensors.index.json").write_text("{}"), "index", "weight_map"),
        (lambda f: (f / "config.json").write_text("[1]"), "config.json", "not a JSON object"),
    ],
)
def test_broken_folders_fail_in_one_line(
    spoil: Callable[[Path], None],
    culprit: str,
    problem: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = write_sharded(tmp_path / "m", TENSORS, shards=3)
    spoil(folder)
    line = error_line(capsys, "analyze", str(folder))
    assert str(folder) in line
    assert culprit in line
    assert problem in line


def test_a_folder_without_weights_says_what_it_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.json").write_text("{}")
    file_error(capsys, "analyze", str(tmp_path), "is a folder", "model.safetensors", "adapter")


def test_prune_leaves_embeddings_alone_unless_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_single(tmp_path / "m", TENSORS)
    out = tmp_path / "pruned.safetensors"
    argv = ["prune", str(folder), "--rank", "2", "--format", "safetensors", "--json"]
    assert main([*argv, "--out", str(out)]) == 0
    document = json.loads(capsys.readouterr().out)
    left = {item["name"]: item["role"] for item in document["left_alone"]}
    assert left == {
        "embeddings.word_embeddings.weight": "embedding",
        "embeddings.position_embeddings.weight": "embedding",
        "embeddings.token_type_embeddings.weight": "embedding",
    }
    pruned = {row["name"] for row in document["layers"]}
    assert "encoder.layer.0.attention.self.query.weight" in pruned
    assert not pruned & set(left)
    named = "embeddings.word_embeddings.weight"
    assert main([*argv, "--out", str(tmp_path / "b.safetensors"), "--layer", named]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in document["layers"]] == [named]
    assert document["layers"][0]["rank_after"] == 2
