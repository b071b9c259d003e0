"""Qt-free parts of the layer overviews: the role/block filter, metric normalisation, replay."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.state.layer_filter import (
    ANY,
    OUTSIDE,
    LayerFilter,
    block_choices,
    is_structured,
    role_choices,
)
from rmt_gui.state.layer_metrics import normalised
from rmt_gui.state.replay import read_run

NAMES = (
    "embeddings.word_embeddings.weight",
    "encoder.layer.0.attention.self.query.weight",
    "encoder.layer.0.intermediate.dense.weight",
    "encoder.layer.1.attention.self.query.weight",
    "encoder.layer.1.output.dense.weight",
)


def infos() -> list[LayerInfo]:
    """BERT-named layers (roles and blocks come from the names)."""
    return [LayerInfo(name, (8, 8), 64, "float32") for name in NAMES]


def shown(layer_filter: LayerFilter) -> list[str]:
    """The names a filter lets through."""
    return [info.name for info in infos() if layer_filter.accepts(info)]


def test_filter_by_block_role_and_group() -> None:
    assert shown(LayerFilter()) == list(NAMES)
    assert shown(LayerFilter(block=1)) == [NAMES[3], NAMES[4]]
    assert shown(LayerFilter(block=0)) == [NAMES[1], NAMES[2]]
    assert shown(LayerFilter(block=OUTSIDE)) == [NAMES[0]]
    assert shown(LayerFilter(role="attention_query")) == [NAMES[1], NAMES[3]]
    assert shown(LayerFilter(role="MLP (up, down)")) == [NAMES[2], NAMES[4]]
    assert shown(LayerFilter(block=1, role="mlp_down")) == [NAMES[4]]


def test_choices_list_only_what_the_model_has() -> None:
    assert block_choices(infos()) == [ANY, 0, 1, OUTSIDE]
    roles = role_choices(infos())
    assert roles[0] == ANY
    assert "attention_key" not in roles
    assert {"attention_query", "mlp_up", "mlp_down", "embedding"} <= set(roles)
    assert is_structured(infos())
    mlp = [LayerInfo(name, (8, 8), 64, "float32") for name in ("fc1.weight", "fc2.weight")]
    assert not is_structured(mlp)


def test_normalised_scales_each_column_and_keeps_undefined() -> None:
    matrix = np.array([[1.0, 5.0, np.nan], [3.0, 5.0, 2.0], [2.0, 5.0, 4.0]])
    scaled = normalised(matrix)
    np.testing.assert_allclose(scaled[:, 0], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(scaled[:, 1], [0.5, 0.5, 0.5])
    assert np.isnan(scaled[0, 2])
    np.testing.assert_allclose(scaled[1:, 2], [0.0, 1.0])


def test_replay_reads_snapshots_in_step_order(tmp_path: Path) -> None:
    values = np.linspace(2.0, 0.5, 4).tolist()
    layer = {"layer": "fc1.weight", "shape": [4, 10], "n_signal": 1, "sigma2": 0.1,
             "lambda_plus": 0.3, "sv_threshold": 1.7, "fit_error": 0.05, "good_fit": True,
             "singular_values": values}  # fmt: skip
    lines = [{"event": "spectra", "step": step, "epochs_done": step / 10, "final": step == 20,
              "seconds": 0.0, "layers": [layer]} for step in (20, 0, 10)]  # fmt: skip
    (tmp_path / "spectra.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")
    run = read_run(tmp_path)
    assert [step.step for step in run.steps] == [0, 10, 20]
    assert run.steps[-1].final
    np.testing.assert_allclose(run.steps[0].layers[0].spectrum.singular_values, values)
    assert run.index_at(15) == 1
    assert run.layer_names == ["fc1.weight"]


def test_replay_names_the_bad_line(tmp_path: Path) -> None:
    bad = {"event": "spectra", "step": 0, "epochs_done": 0, "layers": [{"layer": "x"}]}
    (tmp_path / "spectra.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(FileError, match="line 1: not a layer spectrum"):
        read_run(tmp_path)
    with pytest.raises(FileError, match="not a training run folder"):
        read_run(tmp_path / "missing")
