"""Marchenko–Pastur law: closed-form CDF against quadrature, quantile against CDF."""

import numpy as np
import pytest
from scipy.integrate import quad

from rmt_gui.spectral import mp_cdf, mp_density, mp_edges, mp_quantile

GAMMAS = [0.01, 0.08, 0.25, 0.5, 0.784, 0.999, 1.0]


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("sigma2", [1.0, 0.037])
def test_cdf_matches_integrated_density(gamma: float, sigma2: float) -> None:
    a, b = mp_edges(gamma, sigma2)
    xs = a + (b - a) * np.array([0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
    numeric = [
        quad(lambda x: mp_density(x, gamma, sigma2), a, x, limit=200, points=[a])[0] for x in xs
    ]
    np.testing.assert_allclose(mp_cdf(xs, gamma, sigma2), numeric, atol=1e-7)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_density_integrates_to_one_and_cdf_saturates(gamma: float) -> None:
    a, b = mp_edges(gamma)
    total = quad(lambda x: mp_density(x, gamma), a, b, limit=200)[0]
    assert total == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(mp_cdf([a - 1.0, a, b, b + 1.0], gamma), [0.0, 0.0, 1.0, 1.0])
    assert mp_density(np.array([a - 0.1, b + 0.1]), gamma).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("gamma", GAMMAS)
def test_quantile_inverts_cdf(gamma: float) -> None:
    probs = np.linspace(0.0, 1.0, 1001)
    q = mp_quantile(probs, gamma, sigma2=2.5)
    np.testing.assert_allclose(mp_cdf(q, gamma, sigma2=2.5), probs, atol=1e-12)
    assert np.all(np.diff(q) >= 0)
    a, b = mp_edges(gamma, 2.5)
    assert q[0] == pytest.approx(a, abs=1e-12) and q[-1] == pytest.approx(b)


def test_quantile_extreme_tails_converge() -> None:
    probs = np.array([1e-8, 1e-6, 1e-4, 1 - 1e-4, 1 - 1e-6])
    for gamma in (0.05, 0.3, 1.0):
        q = mp_quantile(probs, gamma)
        np.testing.assert_allclose(mp_cdf(q, gamma), probs, rtol=0, atol=1e-14)


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5, float("nan")])
def test_bad_gamma_raises(bad: float) -> None:
    with pytest.raises(ValueError, match="gamma"):
        mp_cdf(1.0, bad)


def test_bad_probability_raises() -> None:
    with pytest.raises(ValueError, match="probabilities"):
        mp_quantile([0.5, 1.2], 0.5)
