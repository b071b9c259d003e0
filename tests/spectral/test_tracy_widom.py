"""Tracy–Widom beta = 1 against published quantiles and moments."""

import numpy as np
import pytest

from rmt_gui.spectral import tw1_cdf, tw1_quantile


@pytest.mark.parametrize(
    ("prob", "published"), [(0.90, 0.4501), (0.95, 0.9793), (0.99, 2.0234), (0.5, -1.2686)]
)
def test_published_quantiles(prob: float, published: float) -> None:
    assert tw1_quantile(prob) == pytest.approx(published, abs=1e-3)


def test_reference_quantile_to_many_digits() -> None:
    assert tw1_quantile(0.9) == pytest.approx(0.4501432891, abs=1e-8)


def test_cdf_inverts_quantile_and_is_monotone() -> None:
    s = np.linspace(-6, 5, 45)
    values = np.array([tw1_cdf(x) for x in s])
    assert np.all(np.diff(values) > 0)
    for prob in (0.05, 0.3, 0.77, 0.999):
        assert tw1_cdf(tw1_quantile(prob)) == pytest.approx(prob, abs=1e-10)


@pytest.mark.slow
def test_mean_and_standard_deviation() -> None:
    s = np.linspace(-9, 8, 1201)
    cdf = np.array([tw1_cdf(x) for x in s])
    density = np.gradient(cdf, s)
    mean = np.trapezoid(s * density, s)
    sd = np.sqrt(np.trapezoid((s - mean) ** 2 * density, s))
    assert mean == pytest.approx(-1.2065, abs=1e-3)
    assert sd == pytest.approx(1.2680, abs=1e-3)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1])
def test_out_of_range_probability(bad: float) -> None:
    with pytest.raises(ValueError, match="probability"):
        tw1_quantile(bad)
