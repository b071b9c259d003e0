"""The compression pipeline as events: budgets, BEMA ranks, accuracy drop, curve, cancel."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rmt_gui.errors import CancelledError
from rmt_gui.jobs import compress_job
from rmt_gui.jobs.compress_job import (
    TUNED,
    CompressData,
    CompressError,
    Compressor,
    CompressResult,
    CurvePoint,
    CurveStart,
    SensitivityPoint,
    Stage,
    Target,
)
from rmt_gui.jobs.config import TrainConfig
from rmt_gui.jobs.control import CancelToken
from rmt_gui.jobs.finetune import FinetuneStep, finetune
from rmt_gui.model.allocation import tensor_count
from rmt_gui.model.data import load_mnist
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.pruning import plan
from rmt_gui.model.rule import PruneRule
from tests.helpers.compress_models import trained_network
from tests.helpers.paths import DATA_DIR


@pytest.fixture(scope="module")
def data() -> CompressData:
    """6,000 training images: the last 1,000 for validation, 512 for calibration."""
    return CompressData.from_training(load_mnist(DATA_DIR, train=True).head(6000), 1000, 512)


@pytest.fixture(scope="module")
def model(data: CompressData) -> torch.nn.Module:
    return trained_network((784, 64, 10), data.train, epochs=2)


def test_a_fraction_fits_the_budget_and_reports_every_layer(model, data) -> None:
    before = {k: v.clone() for k, v in model.state_dict().items()}
    compressor = Compressor(model, data)
    events = list(compressor.compress(Target(fraction=0.1), "whitened", finetune_steps=20))
    result = events[-1]
    assert isinstance(result, CompressResult)
    assert result.params_after <= 0.1 * result.params_before
    assert tensor_count(compressor.compressed) == result.params_after
    assert [row.layer for row in result.layers] == ["fc1.weight", "fc2.weight"]
    assert result.layers[0].n_signal >= 1  # a trained first layer has spikes
    assert {e.name for e in events if isinstance(e, Stage)} >= {"calibrating", "fine-tuning"}
    assert sum(isinstance(e, FinetuneStep) for e in events) == 20
    assert any(isinstance(e, SensitivityPoint) and e.layer == "fc2.weight" for e in events)
    assert result.val_accuracy_after > 0.6
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.params_after = 0  # type: ignore[misc]


def test_bema_target_takes_prunes_ranks(model, data) -> None:
    compressor = Compressor(model, data)
    result = list(compressor.compress(Target(bema=True), "svd", finetune_steps=0))[-1]
    plans = plan(model, ["fc1.weight", "fc2.weight"], PruneRule("bema", factorize="if_smaller"))
    expected = [p.rank if p.factorize else None for p in plans]
    assert [row.rank for row in result.layers] == expected
    assert [row.n_signal for row in result.layers] == [p.n_signal for p in plans]


def test_max_drop_finds_a_small_model_within_the_drop(model, data) -> None:
    compressor = Compressor(model, data)
    result = list(compressor.compress(Target(max_drop=2.0), "whitened", finetune_steps=0))[-1]
    assert result.val_accuracy_after >= result.val_accuracy_before - 0.02
    assert result.params_after < 0.5 * result.params_before


def test_a_fine_tune_below_the_drop_floor_is_not_kept(model, data, monkeypatch) -> None:
    diverging = TrainConfig(lr=1e3)
    monkeypatch.setattr(compress_job, "finetune", lambda *args: finetune(*args, config=diverging))
    events = list(Compressor(model, data).compress(Target(max_drop=2.0), "whitened", 20))
    result = events[-1]
    assert isinstance(result, CompressResult) and result.finetune_steps == 0
    assert result.val_accuracy_after >= result.val_accuracy_before - 0.02
    assert Stage("note", "the fine-tune fell below the --max-drop floor: kept untuned") in events


def test_curve_yields_each_method_point_by_point(model, data) -> None:
    events = list(Compressor(model, data).curve((0.1, 0.3), finetune_steps=5))
    start = events[0]
    assert isinstance(start, CurveStart) and start.methods == ("svd", "whitened", TUNED)
    points = [e for e in events if isinstance(e, CurvePoint)]
    assert [p.method for p in points] == [
        "bema",
        "svd",
        "svd",
        "whitened",
        "whitened",
        TUNED,
        TUNED,
    ]
    for point in points[1:]:
        assert point.kept <= point.fraction and point.params == round(
            point.kept * start.params_before
        )
    assert points[3].val_accuracy >= points[1].val_accuracy - 0.05


def test_unreachable_fraction_is_left_out_of_the_curve(model, data) -> None:
    events = list(Compressor(model, data).curve((0.0001, 0.2), finetune_steps=0))
    assert events[1].fractions == (0.2,)
    assert any(isinstance(e, Stage) and e.name == "note" for e in events)


def test_cancel_stops_the_pipeline(model, data) -> None:
    token = CancelToken()
    events = Compressor(model, data, cancel=token).compress(Target(fraction=0.2))
    next(events)
    token.cancel()
    with pytest.raises(CancelledError):
        list(events)


def test_finetune_trains_a_copy_and_can_be_cancelled(model, data) -> None:
    before = model.fc1.weight.detach().clone()
    assert [e.step for e in finetune(model, data.train, 3)] == [1, 2, 3]
    assert torch.equal(model.fc1.weight, before)
    token = CancelToken()
    running = finetune(model, data.train, 100, cancel=token)
    next(running)
    token.cancel()
    with pytest.raises(CancelledError):
        next(running)


def test_settings_are_checked_in_one_line(data) -> None:
    with pytest.raises(CompressError, match="exactly one"):
        Target(fraction=0.1, bema=True)
    with pytest.raises(CompressError, match=r"\(0, 1\]"):
        Target(fraction=1.5)
    with pytest.raises(CompressError, match="leave none"):
        CompressData.from_training(data.validation, validation=5000)


@pytest.mark.slow
def test_allocation_beats_a_uniform_fraction_on_a_deeper_mlp() -> None:
    train = load_mnist(DATA_DIR, train=True).head(12_000)
    data = CompressData.from_training(train, validation=2000, calibration=1024)
    deep = trained_network((784, 512, 256, 10), data.train)
    compressor = Compressor(deep, data)
    result = list(compressor.compress(Target(fraction=0.05), "whitened", finetune_steps=0))[-1]
    from rmt_gui.jobs.compress_job import drain
    from rmt_gui.model.allocation import apply_ranks, uniform_ranks

    decompositions = drain(compressor.decompositions("whitened"))
    uniform, _ = apply_ranks(deep, uniform_ranks(compressor.costs, 0.05), decompositions)
    test = load_mnist(DATA_DIR, train=False).head(2000)
    allocated = evaluate(compressor.compressed, test).accuracy
    assert tensor_count(uniform) <= 0.05 * result.params_before * 1.01
    assert allocated > evaluate(uniform, test).accuracy + 0.05
    assert result.params_after <= 0.05 * result.params_before
