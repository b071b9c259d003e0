"""Gram-route spectra and rebuilds agree with the SVD-based surgery and the numpy spectrum."""

import numpy as np
import pytest
import torch

from rmt_gui.model.lowrank import GramSVD, keep_components, scale_noise, weight_spectrum
from rmt_gui.model.surgery import get_weight, keep_subset, shrink
from rmt_gui.model.tree import build_mlp, is_factor_pair
from rmt_gui.spectral import spectrum_of


@pytest.fixture
def model() -> torch.nn.Module:
    return build_mlp([784, 48, 10], seed=3)


@pytest.mark.parametrize("shape", [(48, 784), (784, 48), (30, 30)])
def test_weight_spectrum_matches_numpy(shape: tuple[int, int]) -> None:
    weight = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    ours = weight_spectrum(weight)
    reference = spectrum_of(weight.numpy())
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours.singular_values, reference.singular_values, rtol=1e-9)


def test_nan_weights_are_refused() -> None:
    weight = torch.ones(5, 12)
    weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        weight_spectrum(weight)
    with pytest.raises(ValueError, match="NaN"):
        GramSVD.of(weight)


@pytest.mark.parametrize("factorize", ["never", "if_smaller"])
def test_keep_components_matches_keep_subset(model: torch.nn.Module, factorize: str) -> None:
    idx = torch.tensor([0, 1, 2, 5, 9])
    ours, change = keep_components(model, "fc1.weight", idx, factorize)
    ref, ref_change = keep_subset(model, "fc1.weight", idx, factorize)
    assert change == ref_change
    assert change.factorized == (factorize == "if_smaller")
    assert is_factor_pair(ours.fc1) == change.factorized
    for key, value in ref.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].abs(), value.abs(), atol=1e-5)
    x = torch.rand(7, 1, 28, 28)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)
    assert get_weight(model, "fc1.weight").shape == (48, 784)


def test_wide_layer_uses_the_other_side(model: torch.nn.Module) -> None:
    ours, _ = keep_components(model, "fc2.weight", torch.arange(4))
    ref, _ = keep_subset(model, "fc2.weight", torch.arange(4))
    torch.testing.assert_close(ours.fc2.weight, ref.fc2.weight, atol=1e-6, rtol=1e-5)


def test_scale_noise_matches_shrink(model: torch.nn.Module) -> None:
    ours, change = scale_noise(model, "fc1.weight", 6, 0.5)
    ref, ref_change = shrink(model, "fc1.weight", 6, 0.5)
    assert change == ref_change
    torch.testing.assert_close(ours.fc1.weight, ref.fc1.weight, atol=1e-6, rtol=1e-5)
    s = np.linalg.svd(ours.fc1.weight.detach().double().numpy(), compute_uv=False)
    s0 = np.linalg.svd(model.fc1.weight.detach().double().numpy(), compute_uv=False)
    np.testing.assert_allclose(s[6:], 0.5 * s0[6:], rtol=1e-4)


def test_rank_deficient_weight_rebuilds_without_nan() -> None:
    model = build_mlp([784, 20, 10], seed=0)
    low, _ = keep_subset(model, "fc1.weight", torch.arange(5))
    svd = GramSVD.of(get_weight(low, "fc1.weight"))
    assert int((svd.s == 0).sum()) > 0
    rebuilt, _ = scale_noise(low, "fc1.weight", 3, 0.5, svd=svd)
    assert bool(torch.isfinite(rebuilt.fc1.weight).all())
