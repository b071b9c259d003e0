"""``rmt-gui analyze``: WeightWatcher's metrics in JSON and table, the heavy-tail verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rmt_gui.cli import main
from rmt_gui.cli.analyze import fit_verdict
from rmt_gui.spectral.ww_metrics import METRIC_KEYS
from tests.helpers.planted_spectra import heavy_tailed

NUMBERS = ("alpha", "alpha_weighted", "log_norm", "log_spectral_norm", "stable_rank", "mp_softrank")


@pytest.fixture(scope="module")
def layers_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A heavy-tailed layer, a noise layer, a zero layer and one too small to fit."""
    path = tmp_path_factory.mktemp("metrics") / "layers.npz"
    np.savez(
        path,
        tail=heavy_tailed((300, 600)),
        noise=np.random.default_rng(3).standard_normal((300, 600)),
        zero=np.zeros((20, 30)),
        tiny=np.ones((2, 5)),
    )
    return path


def test_json_has_the_metrics_and_nulls_where_undefined(
    layers_npz: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["analyze", str(layers_npz), "--json"]) == 0
    layers = {row["name"]: row for row in json.loads(capsys.readouterr().out)["layers"]}
    for row in layers.values():
        assert set(METRIC_KEYS) <= set(row)
    tail, noise = layers["tail"], layers["noise"]
    for row in (tail, noise):
        assert all(isinstance(row[key], float) for key in NUMBERS)
        assert row["alpha_weighted"] == pytest.approx(row["alpha"] * row["log_spectral_norm"])
    assert tail["good_fit"] and tail["heavy_tail"] is True and tail["alpha"] < 4.0
    assert noise["good_fit"] and noise["heavy_tail"] is False and noise["alpha"] > 4.0
    assert tail["warning"] in ("", "over-trained") and noise["warning"] in ("", "under-trained")
    for name in ("zero", "tiny"):
        assert all(layers[name][key] is None for key in METRIC_KEYS), name


def test_table_shows_alpha_label_and_heavy_tail(
    layers_npz: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["analyze", str(layers_npz)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[-3:] == ["GD", "alpha", "ww_label"]
    rows = {line.split()[0]: line for line in lines[2:] if not line.startswith("note:")}
    assert "heavy tail" in rows["tail"] and " good " not in rows["tail"]
    assert " good " in rows["noise"] and "heavy tail" not in rows["noise"]


@pytest.mark.parametrize(
    ("good_fit", "heavy_tail", "verdict"),
    [
        (True, True, "heavy tail"),
        (True, False, "good"),
        (True, None, "good"),
        (False, True, "POOR"),
    ],
)
def test_fit_verdict(good_fit: bool, heavy_tail: bool | None, verdict: str) -> None:
    assert fit_verdict({"good_fit": good_fit, "heavy_tail": heavy_tail}) == verdict
