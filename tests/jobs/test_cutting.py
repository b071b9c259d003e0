"""One pruning cut: the keep rule, factorisation, the variants and skipped layers."""

import dataclasses

import numpy as np
import pytest
import torch

from rmt_gui.jobs.config import PruneConfig
from rmt_gui.jobs.cutting import linear_weights, prune_network
from rmt_gui.model.surgery import SurgeryError, get_weight, parameter_count
from rmt_gui.model.tree import build_mlp, is_factor_pair
from rmt_gui.spectral import keep_rank
from rmt_gui.spectral.spectrum import Spectrum
from tests.helpers.cutoff_spikes import spike_at_cutoff


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def sv(model: torch.nn.Module, layer: str) -> np.ndarray:
    return np.linalg.svd(get_weight(model, layer).double().numpy(), compute_uv=False)


def test_keep_rule_factorises_the_random_init() -> None:
    model = build_mlp([784, 64, 10], seed=0)
    pruned, records = prune_network(model, PruneConfig(), 0.45, gen())
    fc1, fc2 = records
    assert fc1.layer == "fc1.weight" and fc1.good_fit and not fc1.skipped
    assert fc1.rank_after == keep_rank(fc1.n_signal, 64, 0.45, 10)
    k = fc1.rank_after
    assert fc1.factor_shapes == ((k, 784), (64, k))
    assert fc1.new_layers == ("fc1.0.weight", "fc1.1.weight")
    assert is_factor_pair(pruned.fc1)
    assert fc1.params_after == k * (784 + 64) + 64
    assert fc2.skipped == "keeps all 10 singular values"
    assert parameter_count(pruned) == fc1.params_after + fc2.params_before
    assert linear_weights(model) == ["fc1.weight", "fc2.weight"]
    assert fc1.spectrum.shape == (64, 784) and fc1.spectrum.singular_values.size == 64


def test_factors_are_truncated_never_split_again() -> None:
    model, _ = prune_network(build_mlp([784, 64, 10], seed=0), PruneConfig(), 0.45, gen())
    cfg = PruneConfig.from_options(skip_poor_fit=False)
    again, records = prune_network(model, cfg, 0.2, gen())
    by_layer = {r.layer: r for r in records}
    for layer in ("fc1.0.weight", "fc1.1.weight"):
        record = by_layer[layer]
        assert record.factor_shapes is None and record.new_layers == (layer,)
        assert record.rank_after == keep_rank(record.n_signal, min(record.shape), 0.2, 10)
        assert get_weight(again, layer).shape == get_weight(model, layer).shape
        assert np.sum(sv(again, layer) > 1e-4) == record.rank_after


def test_truncate_variant_keeps_shapes() -> None:
    model = build_mlp([784, 64, 10], seed=0)
    pruned, (fc1, _) = prune_network(
        model, PruneConfig.from_options(variant="truncate"), 0.45, gen()
    )
    assert fc1.factor_shapes is None
    assert get_weight(pruned, "fc1.weight").shape == (64, 784)
    assert np.sum(sv(pruned, "fc1.weight") > 1e-4) == fc1.rank_after < 64


def test_shrink_variant_scales_the_noise_values() -> None:
    model = build_mlp([784, 64, 10], seed=0)
    cfg = PruneConfig.from_options(variant="shrink", shrink_factor=0.25)
    pruned, (fc1, _) = prune_network(model, cfg, 0.45, gen())
    assert not fc1.skipped and fc1.factor_shapes is None
    np.testing.assert_allclose(
        sv(pruned, "fc1.weight")[fc1.n_signal :],
        0.25 * fc1.spectrum.singular_values[fc1.n_signal :],
        rtol=1e-4,
    )


def test_random_variant_is_seeded_and_keeps_the_spikes() -> None:
    model = build_mlp([784, 64, 10], seed=0)
    cfg = PruneConfig.from_options(variant="random", factorize=False)
    first, (a, _) = prune_network(model, cfg, 0.45, gen(1))
    same, _ = prune_network(model, cfg, 0.45, gen(1))
    other, _ = prune_network(model, cfg, 0.45, gen(2))
    top, _ = prune_network(model, dataclasses.replace(cfg, random_subset=False), 0.45, gen(1))
    assert a.rank_after == keep_rank(a.n_signal, 64, 0.45, 10)
    torch.testing.assert_close(first.fc1.weight, same.fc1.weight)
    assert not torch.allclose(first.fc1.weight, other.fc1.weight)
    assert not torch.allclose(first.fc1.weight, top.fc1.weight)
    assert np.sum(sv(first, "fc1.weight") > 1e-4) == a.rank_after


def test_poor_fits_are_skipped_and_say_why() -> None:
    model = build_mlp([784, 64, 10], seed=0)
    pruned, records = prune_network(
        model, PruneConfig.from_options(fit_threshold=1e-6), 0.45, gen()
    )
    assert all(r.skipped.startswith("poor MP fit") for r in records)
    assert all(not r.good_fit for r in records)
    torch.testing.assert_close(pruned.fc1.weight, model.fc1.weight)


def test_records_serialise_to_json() -> None:
    _, records = prune_network(build_mlp([784, 32, 10], seed=0), PruneConfig(), 0.45, gen())
    record = records[0].to_json()
    assert record["shapes_after"] == [list(s) for s in records[0].factor_shapes]
    assert {"n_signal", "sigma2", "lambda_plus", "fit_error", "good_fit", "skipped"} <= set(record)


@pytest.mark.parametrize("min_rank", [40, 64])
def test_min_rank_is_respected(min_rank: int) -> None:
    model = build_mlp([784, 64, 10], seed=0)
    _, (fc1, _) = prune_network(model, PruneConfig.from_options(min_rank=min_rank), 0.1, gen())
    assert fc1.rank_after == min_rank or fc1.skipped == "keeps all 64 singular values"


def test_a_layer_that_is_not_finite_stops_the_cut_naming_it() -> None:
    model = build_mlp([784, 32, 10], seed=0)
    with torch.no_grad():
        model.fc2.weight[0, 0] = float("nan")
    with pytest.raises(SurgeryError, match=r"^fc2\.weight: cannot cut this layer: .*NaN"):
        prune_network(model, PruneConfig(), 0.45, gen())


def test_cut_equals_the_float64_truncation_within_float32_rounding() -> None:
    model = build_mlp([784, 64, 10], seed=0)
    cfg = PruneConfig.from_options(variant="truncate")
    pruned, (fc1, _) = prune_network(model, cfg, 0.45, gen())
    u, s, vh = np.linalg.svd(get_weight(model, "fc1.weight").double().numpy(), False)
    k = fc1.rank_after
    reference = (u[:, :k] * s[:k]) @ vh[:k]
    got = get_weight(pruned, "fc1.weight").double().numpy()
    assert np.abs(got - reference).max() <= 1e-5 * s[0]
    np.testing.assert_allclose(fc1.spectrum.singular_values, s, rtol=0, atol=1e-6 * s[0])
    assert fc1.n_signal == PruneConfig().fit(fc1.spectrum).n_signal


@pytest.mark.parametrize("offset", [1e-5, -1e-5])
def test_a_spike_at_the_cutoff_is_counted_as_in_float64(offset: float) -> None:
    rule = PruneConfig().rule_at(0.45)
    weight = spike_at_cutoff((200, 784), rule.fit, offset)
    model = build_mlp([784, 200, 10], seed=0)
    with torch.no_grad():
        model.fc1.weight.copy_(torch.from_numpy(weight))
    _, (fc1, _) = prune_network(model, PruneConfig(), 0.45, gen())
    s = np.linalg.svd(weight.astype(np.float64), compute_uv=False)
    reference = rule.fit(Spectrum.from_singular_values(s, weight.shape))
    assert fc1.n_signal == reference.n_signal == (2 if offset > 0 else 1)
    assert fc1.sigma2 == pytest.approx(reference.sigma2, rel=1e-6)


def test_float64_weights_are_cut_in_float64() -> None:
    model = build_mlp([784, 64, 10], seed=0).double()
    pruned, (fc1, _) = prune_network(model, PruneConfig(), 0.45, gen())
    np.testing.assert_allclose(fc1.spectrum.singular_values, sv(model, "fc1.weight"), rtol=1e-10)
    assert get_weight(pruned, "fc1.0.weight").dtype == torch.float64
