"""The one pruning rule: checked when built, the output-width floor, rank choice, NaN layers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rmt_gui.model.jit import quiet_jit
from rmt_gui.model.pruning import choose_rank, output_dim, plan
from rmt_gui.model.rule import PAPER_KEEP_NOISE, RANGES, PruneRule, RuleError
from rmt_gui.model.surgery import truncate
from rmt_gui.model.tree import build_mlp, tree_from_state_dict
from rmt_gui.spectral import energy_rank, gavish_donoho_rank, keep_rank, mp_edge_rank
from rmt_gui.spectral.bema import MIN_BETA
from rmt_gui.spectral.spectrum import spectrum_of
from tests.helpers.model_files import PlainNet, SmallCnn, sequential

REAL_FIELDS = sorted(RANGES)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"alpha": 0.7}, "--alpha must be in [0, 0.5), got 0.7"),
        ({"alpha": 0.5}, "--alpha must be in [0, 0.5), got 0.5"),
        ({"beta": 1.0}, "--beta must be in (0, 1), got 1.0"),
        ({"beta": 0.0}, "--beta must be in (0, 1), got 0.0"),
        ({"beta": 1e-13}, "--beta must be at least 1e-12"),
        ({"keep_noise": -0.1}, "--keep-noise must be in [0, 1], got -0.1"),
        ({"keep_noise": math.nan}, "--keep-noise must be in [0, 1], got nan"),
        ({"energy": 0.0}, "--energy must be in (0, 1], got 0"),
        ({"energy": math.inf}, "--energy must be in (0, 1], got inf"),
        ({"shrink_factor": 1.5}, "--shrink-factor must be in [0, 1], got 1.5"),
        ({"fit_threshold": -math.inf}, "--fit-threshold must be a positive number, got -inf"),
        ({"fit_threshold": math.inf}, "--fit-threshold must be a positive number, got inf"),
        ({"alpha": "0.1"}, "--alpha must be a number, got '0.1'"),
        ({"beta": None}, "--beta must be a number, got None"),
        ({"keep_noise": True}, "--keep-noise must be a number, got True"),
        ({"energy": [0.5]}, "--energy must be a number, got [0.5]"),
        ({"rank": 0, "method": "rank"}, "--rank must be at least 1, got 0"),
        ({"rank": 2.5, "method": "rank"}, "--rank must be a whole number, got 2.5"),
        ({"method": "rank"}, "--rank K is needed: the rank method keeps the top K values"),
        ({"min_rank": -3}, "--min-rank must be at least 1, got -3"),
        ({"min_rank": "10"}, "--min-rank must be a whole number, got '10'"),
        ({"method": "svd"}, "the pruning method must be one of bema, rank, gavish-donoho, mp-edge"),
        ({"factorize": True}, "factorize must be one of never, if_smaller, always, got True"),
        ({"formula": "johnstone"}, "the BEMA formula must be one of paper, notebook"),
        ({"skip_poor_fit": "yes"}, "skip_poor_fit must be true or false, got 'yes'"),
    ],
)
def test_bad_settings_are_refused_when_built(fields: dict, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        PruneRule(**fields)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


@pytest.mark.parametrize("field", ["keep_noise", "alpha", "min_rank", "method"])
def test_a_long_bad_value_is_shortened(field: str) -> None:
    with pytest.raises(RuleError) as caught:
        PruneRule(**{field: "x" * 10_000})
    assert len(str(caught.value)) < 160


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(REAL_FIELDS), st.floats(allow_nan=True, allow_infinity=True))
def test_a_real_setting_is_accepted_exactly_inside_its_range(field: str, value: float) -> None:
    _, inside = RANGES[field]
    if math.isfinite(value) and inside(value):
        assert getattr(PruneRule(**{field: value}), field) == value
    else:
        with pytest.raises(RuleError, match=f"^--{field.replace('_', '-')} must be"):
            PruneRule(**{field: value})


@settings(max_examples=40, deadline=None)
@given(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True)
)
def test_bema_options_are_checked_as_the_spectral_code_does(alpha: float, beta: float) -> None:
    if 0 <= alpha < 0.5 and MIN_BETA <= beta < 1:
        rule = PruneRule(alpha=alpha, beta=beta)
        assert (rule.alpha, rule.beta) == (alpha, beta)
    else:
        with pytest.raises(RuleError, match=r"^--(alpha|beta) must be"):
            PruneRule(alpha=alpha, beta=beta)


def test_numpy_numbers_are_stored_as_plain_python_numbers() -> None:
    rule = PruneRule("rank", rank=np.int64(7), alpha=np.float32(0.25), min_rank=np.int32(3))
    assert type(rule.rank) is int and rule.rank == 7
    assert type(rule.alpha) is float and rule.alpha == 0.25
    assert type(rule.min_rank) is int and rule.min_rank == 3


def test_an_error_can_be_spelled_as_another_command_does() -> None:
    with pytest.raises(RuleError) as caught:
        PruneRule("shrink", shrink_factor=2.0)
    assert str(caught.value) == "--shrink-factor must be in [0, 1], got 2"
    spelled = caught.value.spelled({"shrink_factor": "--shrink"})
    assert str(spelled) == "--shrink must be in [0, 1], got 2"
    assert spelled.field == "shrink_factor"
    assert str(caught.value.spelled({})) == str(caught.value)


def test_defaults_and_descriptions() -> None:
    rule = PruneRule()
    assert rule.keep_noise == PAPER_KEEP_NOISE and rule.min_rank is None
    assert rule.describe() == "BEMA, keep 0.45 of noise"
    assert PruneRule("rank", rank=5, factorize="if_smaller").describe() == "rank 5, factorised"
    assert PruneRule("shrink", shrink_factor=0.25).describe() == "shrink noise ×0.25"


def test_floor_is_the_min_rank_or_the_output_width_capped_at_p() -> None:
    assert PruneRule().floor(10, 64) == 10
    assert PruneRule().floor(10, 6) == 6
    assert PruneRule(min_rank=3).floor(10, 64) == 3


def test_poor_fits_are_skipped_only_when_asked() -> None:
    weight = np.random.default_rng(0).standard_normal((64, 200))
    spectrum = spectrum_of(weight)
    strict = PruneRule(fit_threshold=1e-9, skip_poor_fit=True)
    fit = strict.fit(spectrum)
    assert not fit.good_fit
    assert strict.skip_reason(fit).startswith("poor MP fit (error ")
    assert PruneRule(fit_threshold=1e-9).skip_reason(fit) == ""
    assert PruneRule(skip_poor_fit=True).skip_reason(PruneRule().fit(spectrum)) == ""


def test_choose_rank_follows_each_method() -> None:
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((50, 120)) + 8 * np.outer(rng.standard_normal(50), np.ones(120))
    spectrum = spectrum_of(weight)
    fit = PruneRule().fit(spectrum)
    assert fit.n_signal >= 1
    expected = {
        PruneRule(keep_noise=0.3): keep_rank(fit.n_signal, 50, 0.3, 4),
        PruneRule("rank", rank=80): 50,
        PruneRule("gavish-donoho"): max(gavish_donoho_rank(spectrum), 4),
        PruneRule("mp-edge"): max(mp_edge_rank(spectrum, fit), 4),
        PruneRule("energy", energy=0.5): max(energy_rank(spectrum, 0.5), 4),
        PruneRule("shrink"): fit.n_signal,
    }
    for rule, rank in expected.items():
        assert choose_rank(spectrum, fit, rule, 4) == rank, rule.method
    assert choose_rank(spectrum, fit, PruneRule("rank", rank=2), 4) == 2


def scripted(module: nn.Module) -> torch.jit.ScriptModule:
    """``torch.jit.script(module)`` without the deprecation warning."""
    with quiet_jit():
        return torch.jit.script(module)


def test_output_width_is_the_same_for_every_kind_of_model() -> None:
    net = sequential()
    assert output_dim(net) == 10
    assert output_dim(scripted(net)) == 10
    assert output_dim(tree_from_state_dict(net.state_dict())) == 10
    assert output_dim(PlainNet()) == 10
    assert output_dim(scripted(PlainNet())) == 10
    assert output_dim(tree_from_state_dict(SmallCnn().state_dict())) == 10
    factorised, _ = truncate(build_mlp((784, 32, 10), seed=0), "fc2.weight", 3, "always")
    assert output_dim(factorised) == 10
    assert output_dim(tree_from_state_dict({"layer": torch.ones(5, 7)})) == 1


def test_a_scripted_model_plans_as_its_state_dict() -> None:
    net = sequential()
    layers = ["0.weight", "2.weight"]
    rule = PruneRule(factorize="if_smaller")
    from_script = plan(scripted(net), layers, rule)
    from_state = plan(tree_from_state_dict(net.state_dict()), layers, rule)
    assert [p.rank for p in from_script] == [p.rank for p in from_state]
    assert from_script[1].rank == 10
    assert from_script[1].rank > keep_rank(from_script[1].n_signal, 10, PAPER_KEEP_NOISE, 1)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_layer_that_is_not_finite_is_left_alone(bad: float) -> None:
    model = build_mlp((784, 32, 16, 10), seed=0)
    with torch.no_grad():
        model.fc2.weight[3, 5] = bad
    plans = plan(model, ["fc1.weight", "fc2.weight", "fc3.weight"], PruneRule("rank", rank=4))
    first, second, third = plans
    word = "NaN" if math.isnan(bad) else "inf"
    assert second.skipped == f"{word} weights, left as they are"
    assert second.params_after == second.params_before == 16 * 32 + 16
    assert not first.skipped and first.rank == 4 and not third.skipped and third.rank == 4
