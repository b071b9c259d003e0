"""``rmt-gui compare A B``: same-architecture check and per-layer metric changes, ranked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rmt_gui.cli import main
from tests.helpers.cli_errors import error_line
from tests.helpers.hf_folders import HIDDEN, bert_like, planted, write_sharded, write_single

CHANGED = "encoder.layer.1.attention.self.value.weight"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A sharded base model and a single-file variant with two more spikes in one layer."""
    root = tmp_path_factory.mktemp("compare")
    base = bert_like()
    tuned = {**base, CHANGED: planted(np.random.default_rng(9), HIDDEN, HIDDEN, spikes=4)}
    return write_sharded(root / "base", base), write_single(root / "tuned", tuned)


def compare_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    """Run ``compare --json`` and parse its document."""
    assert main(["compare", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_changed_layer_ranks_first(pair: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    document = compare_json(capsys, str(pair[0]), str(pair[1]))
    assert {"sv_max", "n_signal", "sigma2", "lambda_plus"} <= set(document["metrics"])
    first, *rest = document["layers"]
    assert first["name"] == CHANGED
    assert (first["role"], first["block"]) == ("attention_value", 1)
    assert first["metrics"]["n_signal"] == {"a": 2, "b": 4, "delta": 2, "relative": 0.5}
    assert first["change"] >= 0.5
    assert all(layer["change"] == 0.0 for layer in rest)
    assert len(rest) == len({layer["name"] for layer in rest}) == 15


def test_sort_by_one_metric(pair: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    document = compare_json(capsys, str(pair[0]), str(pair[1]), "--sort", "sigma2")
    assert document["layers"][0]["name"] == CHANGED
    assert "--sort" in error_line(capsys, "compare", str(pair[0]), str(pair[1]), "--sort", "nope")


def test_table_lists_every_layer(pair: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", str(pair[0]), str(pair[1])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("A: ") and lines[1].startswith("B: ")
    assert lines[2].split()[:5] == ["layer", "shape", "role", "block", "change"]
    assert lines[3].split()[0] == CHANGED
    assert len(lines) == 3 + 16


def test_other_architectures_are_refused(
    pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    fewer = {k: v for k, v in bert_like().items() if not k.startswith("pooler")}
    line = error_line(capsys, "compare", str(pair[0]), str(write_single(tmp_path / "f", fewer)))
    assert "not the same architecture" in line and "lacks pooler.dense.weight" in line
    wider = {**bert_like(), "pooler.dense.weight": np.ones((HIDDEN, 2 * HIDDEN), np.float32)}
    line = error_line(capsys, "compare", str(pair[0]), str(write_single(tmp_path / "w", wider)))
    assert "pooler.dense.weight is 24x48 here, 24x24 there" in line
