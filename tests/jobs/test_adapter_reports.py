"""The app's analysis of a LoRA adapter: one update per module, from its factors, never fitted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmt_gui.jobs.analysis_job import LayerReport, Opened, analyze_model, open_and_analyze
from rmt_gui.jobs.compare_job import compare_job
from rmt_gui.jobs.control import CancelToken
from tests.helpers.hf_folders import bert_like, lora_factors, write_adapter, write_single

MODULE = "encoder.layer.0.attention.self.query"


def adapter(tmp_path: Path) -> Path:
    """An r = 2 adapter (alpha 6: scale 3) of one module with singular values 2 and 0.5."""
    rng = np.random.default_rng(1)
    return write_adapter(tmp_path / "lora", {MODULE: lora_factors(rng, 24, 24, [2.0, 0.5])}, 2, 6)


def test_adapter_updates_are_reported_with_their_singular_values(tmp_path: Path) -> None:
    opened, *reports = open_and_analyze(adapter(tmp_path), False, CancelToken())
    assert isinstance(opened, Opened)
    [report] = reports
    assert report.name == f"{MODULE}.weight"
    assert report.info.adapter_rank == 2
    assert report.analysis is None and report.metrics is None and not report.prunable
    np.testing.assert_allclose(report.update.values, [6.0, 1.5], rtol=1e-6)
    assert report.rank == 2


def test_a_later_state_of_an_adapter_is_still_an_update(tmp_path: Path) -> None:
    opened, _ = open_and_analyze(adapter(tmp_path), False, CancelToken())
    [again] = analyze_model(opened.model, opened.layers, CancelToken())
    assert again.update is not None and again.analysis is None
    np.testing.assert_allclose(again.update.values, [6.0, 1.5], rtol=1e-5)


def test_ordinary_layers_carry_weightwatcher_metrics(tmp_path: Path) -> None:
    folder = write_single(tmp_path / "bert", bert_like())
    reports = [
        i for i in open_and_analyze(folder, False, CancelToken()) if isinstance(i, LayerReport)
    ]
    assert all(r.metrics is not None and r.update is None for r in reports)
    query = next(r for r in reports if r.name == f"{MODULE}.weight")
    assert query.metrics == query.analysis.ww


def test_compare_job_yields_changes_and_both_spectra(tmp_path: Path) -> None:
    tensors = bert_like()
    a = write_single(tmp_path / "a", tensors)
    tensors["pooler.dense.weight"] = tensors["pooler.dense.weight"] * np.float32(3.0)
    b = write_single(tmp_path / "b", tensors)
    [compared] = compare_job(CancelToken(), a, b)
    assert compared.layers[0].info.name == "pooler.dense.weight"
    spec_a, spec_b = compared.spectra["pooler.dense.weight"]
    np.testing.assert_allclose(spec_b.singular_values, 3 * spec_a.singular_values, rtol=1e-5)
