"""The app's Qt-free jobs: open+analyse, preview/apply, evaluation chunks, sweeps, export."""

from __future__ import annotations

import pickle

import pytest
import torch

from rmt_gui.errors import CancelledError
from rmt_gui.jobs.analysis_job import (
    LayerReport,
    NeedsTrust,
    Opened,
    apply_job,
    open_and_analyze,
    preview_job,
)
from rmt_gui.jobs.control import CancelToken
from rmt_gui.jobs.evaluation import EvalProgress, evaluate_job
from rmt_gui.jobs.export_job import export_job
from rmt_gui.jobs.sweep import coarse_to_fine, rank_sweep, sweep_ranks
from rmt_gui.model.data import load_mnist
from rmt_gui.model.evaluate import EvalResult, evaluate
from rmt_gui.model.native import save_native
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.pruning import PruneRule
from rmt_gui.model.tree import build_mlp
from rmt_gui.spectral import analyze_matrix
from tests.helpers.paths import DATA_DIR


@pytest.fixture
def mlp_file(tmp_path):
    path = tmp_path / "mlp.pt"
    with path.open("wb") as handle:
        save_native(build_mlp([784, 32, 10], seed=0), handle)
    return path


def test_open_then_one_report_per_layer(mlp_file) -> None:
    items = list(open_and_analyze(mlp_file, False, CancelToken()))
    assert isinstance(items[0], Opened) and not items[0].not_runnable
    reports = items[1:]
    assert [r.name for r in reports] == ["fc1.weight", "fc2.weight"]
    assert all(isinstance(r, LayerReport) and r.prunable for r in reports)
    weight = items[0].model.fc1.weight.detach().numpy()
    expected = analyze_matrix("fc1.weight", weight)
    assert reports[0].analysis.fit.n_signal == expected.fit.n_signal
    assert reports[0].rank == 32


def test_pickled_module_yields_needs_trust(tmp_path) -> None:
    path = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(3, 2), path, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    items = list(open_and_analyze(path, False, CancelToken()))
    assert len(items) == 1 and isinstance(items[0], NeedsTrust)


def test_cancel_stops_between_layers(mlp_file) -> None:
    token = CancelToken()
    stream = open_and_analyze(mlp_file, False, token)
    next(stream)
    token.cancel()
    with pytest.raises(CancelledError):
        next(stream)


def test_preview_and_apply(mlp_file) -> None:
    model = open_checkpoint(mlp_file).build_model()
    rule = PruneRule("rank", rank=5, factorize="if_smaller")
    (preview,) = preview_job(model, ["fc1.weight"], rule, CancelToken())
    assert preview.plans[0].rank == 5
    (applied,) = apply_job(model, preview.plans, rule, CancelToken())
    assert applied.base is model and applied.model is not model
    total = sum(p.numel() for p in applied.model.parameters())
    assert total == preview.params_after


def test_evaluation_in_chunks_equals_the_core(mlp_file) -> None:
    model = open_checkpoint(mlp_file).build_model()
    items = list(evaluate_job(model, DATA_DIR, 700, CancelToken(), batch_size=300))
    progress = [(i.phase, i.done, i.total) for i in items if isinstance(i, EvalProgress)]
    assert progress[:2] == [("loading", 0, 0), ("evaluating", 0, 700)]
    assert [done for _, done, _ in progress[2:]] == [300, 600, 700]
    result = items[-1]
    assert isinstance(result, EvalResult)
    expected = evaluate(model, load_mnist(DATA_DIR).head(700))
    assert result.accuracy == pytest.approx(expected.accuracy)
    assert result.loss == pytest.approx(expected.loss, rel=1e-5)


def test_sweep_order_and_points(mlp_file) -> None:
    assert sweep_ranks(32, 5, [7]) == [1, 2, 7, 13, 32]
    order = coarse_to_fine(list(range(9)))
    assert order[:3] == [0, 8, 4] and sorted(order) == list(range(9))
    model = open_checkpoint(mlp_file).build_model()
    points = list(rank_sweep(model, "fc1.weight", [1, 32], DATA_DIR, 200, CancelToken()))
    assert [p.rank for p in points] == [1, 32]
    full = evaluate(model, load_mnist(DATA_DIR).head(200))
    assert points[1].accuracy == pytest.approx(full.accuracy)


def test_export_job_writes_the_file(mlp_file, tmp_path) -> None:
    model = open_checkpoint(mlp_file).build_model()
    target = tmp_path / "out.safetensors"
    (done,) = export_job(
        model, target, "safetensors", ["opened"], {}, None, mlp_file, CancelToken()
    )
    assert done.path == target and open_checkpoint(target).layers()[0].name == "fc1.weight"
    assert done.report.bytes_before == mlp_file.stat().st_size
    assert done.report.bytes_after == target.stat().st_size
    assert done.report.latency_after is not None and done.report.latency_after.batch_1_ms > 0
