"""The float32 spectrum route: exact spike counts by inertia, bulk fits close to float64."""

import json

import numpy as np
import pytest
import torch

from rmt_gui.model import fast_spectrum
from rmt_gui.model.analysis import SpectrumCache, checked_fit
from rmt_gui.model.fast_spectrum import (
    count_above,
    float32_spectrum,
    positive_pivots,
    spike_count_holds,
    uses_float32,
)
from rmt_gui.spectral import bema_fit, spectrum_of
from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.spectrum import Spectrum
from tests.helpers.paths import CASES_DIR

CPU = torch.device("cpu")


def _svd_fit(matrix: np.ndarray) -> BemaResult:
    """The reference: BEMA on the float64 SVD's singular values."""
    s = np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)
    return bema_fit(Spectrum.from_singular_values(s, matrix.shape))


def _planted(seed: int, offset: float) -> np.ndarray:
    """A 300x200 noise matrix with a big spike and one spike at ``(1 + offset)`` x the cutoff."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((300, 200)) / np.sqrt(300)
    u, s, vt = np.linalg.svd(noise, full_matrices=False)
    cutoff = bema_fit(Spectrum.from_singular_values(s, noise.shape)).lambda_plus
    s[0] = 6.0 * s[0]
    s[1] = np.sqrt(300 * cutoff * (1.0 + offset))
    return (u * s) @ vt


@pytest.fixture
def float32_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every layer, however small, through the float32 route."""
    monkeypatch.setattr(fast_spectrum, "FLOAT32_MIN_P", 1)


@pytest.mark.parametrize("size", [6, 60, 240])
def test_positive_pivots_is_the_inertia(size: int) -> None:
    rng = np.random.default_rng(size)
    a = rng.standard_normal((size, size))
    a = a + a.T
    ld, pivots, _ = torch.linalg.ldl_factor_ex(torch.from_numpy(a))
    assert positive_pivots(ld, pivots) == int(np.count_nonzero(np.linalg.eigvalsh(a) > 0))
    if size > 6:
        assert bool((pivots < 0).any())  # 2x2 blocks were exercised


@pytest.mark.parametrize("shape", [(120, 80), (80, 120)])
def test_count_above_matches_the_svd(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    w = (rng.standard_normal(shape) * 1e-3).astype(np.float32)
    lam = np.sort(np.linalg.svd(w.astype(np.float64), compute_uv=False) ** 2 / max(shape))
    for cutoff in (lam[10] * 0.999 + lam[11] * 0.001, float(np.median(lam)), lam[-1] * 1.0001):
        assert count_above(w, float(cutoff), CPU) == int(np.count_nonzero(lam > cutoff))


def test_route_depends_on_layer_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert uses_float32((4096, 4096))
    assert not uses_float32((1000, 784))
    rng = np.random.default_rng(0)
    cache = SpectrumCache()
    assert cache.routed(rng.standard_normal((50, 40)), CPU).exact
    monkeypatch.setattr(fast_spectrum, "FLOAT32_MIN_P", 40)
    big = rng.standard_normal((50, 40)).astype(np.float32)
    routed = cache.routed(big, CPU)
    assert not routed.exact and 0 < routed.error < 1e-3 * routed.spectrum.eigenvalues[0]
    assert cache.routed(big, CPU) is routed and cache.hits == 1


def _cases() -> list[dict]:
    return json.loads((CASES_DIR / "cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", _cases(), ids=lambda case: case["id"])
def test_reference_cases_by_the_float32_route(float32_everywhere: None, case: dict) -> None:
    matrix = np.load(CASES_DIR / case["file"])
    reference = _svd_fit(matrix)
    spectrum, fit = checked_fit(matrix, bema_fit, SpectrumCache(), CPU)
    assert fit.n_signal == reference.n_signal == case["paper"]["n_signal"]
    assert fit.sigma2 == pytest.approx(reference.sigma2, rel=1e-6)
    top = spectrum.singular_values[0]
    assert top == pytest.approx(np.linalg.norm(matrix.astype(np.float64), 2), rel=1e-5)


@pytest.mark.parametrize("offset", [1e-5, -1e-5, 3e-6, -3e-6])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spike_at_the_cutoff_is_counted_exactly(
    float32_everywhere: None, seed: int, offset: float
) -> None:
    matrix = _planted(seed, offset)
    reference = _svd_fit(matrix)
    routed = float32_spectrum(matrix, CPU)
    assert routed.near(reference.lambda_plus)  # the float32 values alone cannot decide
    _, fit = checked_fit(matrix, bema_fit, SpectrumCache(), CPU)
    assert fit.n_signal == reference.n_signal
    assert fit.sigma2 == pytest.approx(reference.sigma2, rel=1e-6)


def test_a_wrong_count_is_refuted(float32_everywhere: None) -> None:
    matrix = _planted(0, 1e-5)
    routed = float32_spectrum(matrix, CPU)
    reference = _svd_fit(matrix)
    holds = spike_count_holds(matrix, routed, reference.lambda_plus, reference.n_signal, CPU)
    wrong = reference.n_signal + 1
    assert holds
    assert not spike_count_holds(matrix, routed, reference.lambda_plus, wrong, CPU)


def test_float32_route_keeps_the_scaling_and_messages() -> None:
    rng = np.random.default_rng(5)
    w = rng.standard_normal((64, 48))
    scaled = [w * scale for scale in (1e-150, 1e150)]
    scaled += [(w * scale).astype(np.float32) for scale in (1e-25, 1e-3, 1.0, 1e25)]
    for matrix in scaled:
        exact = spectrum_of(matrix).singular_values
        fast = float32_spectrum(matrix, CPU).spectrum.singular_values
        np.testing.assert_allclose(fast, exact, rtol=1e-4, atol=1e-5 * exact[0])
    bad = w.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN") as fast_error:
        float32_spectrum(bad, CPU)
    with pytest.raises(ValueError) as exact_error:
        spectrum_of(bad)
    assert str(fast_error.value) == str(exact_error.value)
    with pytest.raises(ValueError, match="too large for float64"):
        float32_spectrum(w * 1e160, CPU)
