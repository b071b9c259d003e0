"""Histogram densities and MP curves share one normalisation on both scales."""

import numpy as np
import pytest

from rmt_gui.spectral import bema_fit, spectrum_of
from rmt_gui.spectral.histogram import histogram, mp_curve, spectrum_values, to_scale


@pytest.fixture(scope="module")
def noise_spectrum():
    rng = np.random.default_rng(7)
    return spectrum_of(rng.standard_normal((600, 900)) * 0.05)


@pytest.mark.parametrize("scale", ["eigen", "singular"])
@pytest.mark.parametrize("log", [False, True])
def test_mp_curve_integrates_to_one(noise_spectrum, scale: str, log: bool) -> None:
    x, y = mp_curve(bema_fit(noise_spectrum), scale=scale, log=log, points=4001)
    assert np.all(np.diff(x) > 0)
    assert np.trapezoid(y, x) == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("scale", ["eigen", "singular"])
def test_histogram_of_pure_noise_follows_the_curve(noise_spectrum, scale: str) -> None:
    fit = bema_fit(noise_spectrum)
    edges, density = histogram(spectrum_values(noise_spectrum, scale), bins=30)
    assert len(edges) == len(density) + 1
    assert np.sum(density * np.diff(edges)) == pytest.approx(1.0)
    x, y = mp_curve(fit, scale=scale)
    centres = (edges[:-1] + edges[1:]) / 2
    curve = np.interp(centres, x, y, left=0, right=0)
    assert np.max(np.abs(curve - density)) < 0.25 * density.max()


def test_capped_range_keeps_normalisation_over_all_values() -> None:
    values = np.concatenate([np.linspace(0, 1, 99), [50.0]])
    edges, density = histogram(values, bins=10, upper=1.0)
    assert edges[-1] == 1.0
    assert np.sum(density * np.diff(edges)) == pytest.approx(0.99)


def test_degenerate_inputs() -> None:
    edges, density = histogram(np.zeros(5), bins=4)
    assert np.isfinite(density).all() and len(edges) == 5
    zero_fit = bema_fit(np.zeros((20, 20)))
    assert mp_curve(zero_fit)[0].size == 0
    assert to_scale(0.04, 100, "singular") == pytest.approx(2.0)
    assert to_scale(0.04, 100, "eigen") == 0.04
