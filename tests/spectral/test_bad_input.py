"""Hostile input to the spectral API: a clear ``ValueError`` or a finite, correct answer."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from rmt_gui.spectral import (
    Spectrum,
    analyze_matrix,
    bema_fit,
    energy_rank,
    keep_rank,
    mp_cdf,
    mp_density,
    mp_edges,
    mp_quantile,
    spectrum_of,
    tracy_widom_margin,
    tw1_cdf,
    tw1_quantile,
)
from rmt_gui.spectral.bema import check_bema_options
from rmt_gui.spectral.histogram import histogram, mp_curve, to_scale
from rmt_gui.spectral.spectrum import gram_eigenvalues
from tests.helpers.awkward_matrices import ANALYSABLE, REFUSED, noise

FIT_FLOATS = ("gamma", "sigma2", "lambda_plus", "sv_threshold", "fit_error", "bulk_edge")


def assert_finite_fit(matrix: np.ndarray) -> None:
    """The full analysis of ``matrix`` is finite and internally consistent."""
    analysis = analyze_matrix("w", matrix)
    fit = analysis.fit
    assert all(math.isfinite(getattr(fit, key)) for key in FIT_FLOATS)
    assert 0 <= fit.n_signal <= fit.p and 0.0 <= fit.fit_error <= 1.0
    assert fit.sigma2 >= 0.0 and fit.lambda_plus >= 0.0
    assert np.isfinite(analysis.spectrum.eigenvalues).all()
    assert 0 <= analysis.rank_gavish_donoho <= fit.p


@pytest.mark.parametrize("name", list(ANALYSABLE))
def test_awkward_matrices_analyse_to_finite_numbers(name: str) -> None:
    assert_finite_fit(ANALYSABLE[name]())


@pytest.mark.parametrize("name", list(REFUSED))
def test_hostile_matrices_are_refused_in_plain_words(name: str) -> None:
    make, phrase = REFUSED[name]
    with pytest.raises(ValueError, match=phrase.replace("(", r"\(")) as info:
        analyze_matrix("w", make())
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


@pytest.mark.parametrize("exponent", [-500, -100, 100, 495])
def test_power_of_two_scaling_is_exact(exponent: int) -> None:
    w = noise((30, 50), seed=4)
    w[0] *= 20.0
    base, scaled = bema_fit(w), bema_fit(np.ldexp(w, exponent))
    assert scaled.n_signal == base.n_signal == 1
    assert scaled.sigma2 == pytest.approx(math.ldexp(base.sigma2, 2 * exponent), rel=1e-12)
    assert scaled.sv_threshold == pytest.approx(math.ldexp(base.sv_threshold, exponent), rel=1e-12)
    assert scaled.fit_error == pytest.approx(base.fit_error, abs=1e-12)


def test_gram_route_is_scaled_and_matches_svd_where_s_squared_overflows() -> None:
    w = noise((20, 30)) * 5e153
    mu, exponent = gram_eigenvalues(w)
    assert np.isfinite(mu).all() and mu[-1] <= 20 * 30
    reference = np.linalg.svd(w / 5e153, compute_uv=False) * 5e153
    assert reference[0] > math.sqrt(np.finfo(np.float64).max)
    np.testing.assert_allclose(spectrum_of(w).singular_values, reference, rtol=1e-10)
    assert math.ldexp(math.sqrt(mu[-1]), exponent) == pytest.approx(reference[0], rel=1e-10)


def test_long_double_beyond_float64_is_scaled_before_narrowing() -> None:
    w = noise((10, 12)).astype(np.longdouble) * np.longdouble(2) ** 600
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 on this platform")
    with pytest.raises(ValueError, match="too large for float64"):
        spectrum_of(w)
    assert spectrum_of(w / np.longdouble(2) ** 300).singular_values[0] == pytest.approx(
        np.linalg.svd(noise((10, 12)), compute_uv=False)[0] * 2.0**300, rel=1e-10
    )


def test_zero_matrix_says_so() -> None:
    fit = bema_fit(np.zeros((12, 20)))
    assert (fit.sigma2, fit.lambda_plus, fit.sv_threshold, fit.n_signal) == (0.0, 0.0, 0.0, 0)
    assert "the layer is all zeros" in fit.note and not fit.good_fit


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: np.array([["a", "b"]]), "real numeric"),
        (lambda: np.array([[1 + 2j, 3]]), "real numeric"),
        (lambda: np.ones((2, 3), dtype=bool), "real numeric"),
        (lambda: np.array([[1.0, None]], dtype=object), "real numeric"),
        (lambda: np.ones((2, 3, 4)), "2-D"),
        (lambda: np.ones((3, 0)), "non-empty"),
        (lambda: [[1.0, 2.0], [3.0]], "inhomogeneous"),
    ],
)
def test_non_matrices_raise_value_error(make: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        spectrum_of(make())


@pytest.mark.parametrize(
    ("values", "shape", "match"),
    [
        ([1.0, float("nan")], (2, 3), "NaN or infinite singular values"),
        ([1.0, float("inf")], (2, 3), "NaN or infinite singular values"),
        ([1.0, -1.0], (2, 3), "non-negative"),
        (["x", "y"], (2, 3), "real numbers"),
        ([1.0, 2.0], (2.0, 3), "shape of positive integers"),
        ([1.0, 2.0], 5, "shape of positive integers"),
        ([1.0], (0, 3), "shape of positive integers"),
        ([1e200], (1, 1), "too large"),
        ([1e-160], (1, 4), "too small"),
    ],
)
def test_bad_singular_values_raise(values: list, shape: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Spectrum.from_singular_values(values, shape)  # type: ignore[arg-type]


def test_eigenvalues_near_the_float64_limit_do_not_overflow() -> None:
    spec = Spectrum.from_eigenvalues([1e308, 1.0], (2, 1000))
    assert spec.eigenvalues[0] == pytest.approx(1e308, rel=1e-12)
    assert np.isfinite(spec.singular_values).all()


@pytest.mark.parametrize(
    ("alpha", "beta", "message"),
    [
        (0.7, 0.1, "alpha must be in [0, 0.5), got 0.7"),
        (-0.0001, 0.1, "alpha must be in [0, 0.5), got -0.0001"),
        (float("nan"), 0.1, "alpha must be in [0, 0.5), got nan"),
        ("0.2", 0.1, "alpha must be a number, got '0.2'"),
        (None, 0.1, "alpha must be a number, got None"),
        (True, 0.1, "alpha must be a number, got True"),
        ([0.2], 0.1, "alpha must be a number, got [0.2]"),
        (0.2, 1.0, "beta must be in (0, 1), got 1.0"),
        (0.2, float("inf"), "beta must be in (0, 1), got inf"),
        (0.2, 0.0, "beta must be in (0, 1), got 0.0"),
        (0.2, 1e-15, "beta must be at least 1e-12"),
        (0.2, b"0.1", "beta must be a number"),
    ],
)
def test_bema_options_are_checked_in_plain_words(alpha: object, beta: object, message: str) -> None:
    for call in (lambda: check_bema_options(alpha, beta), lambda: bema_fit(noise(), alpha, beta)):
        with pytest.raises(ValueError) as info:
            call()  # type: ignore[arg-type]
        assert str(info.value).startswith(message)


def test_valid_options_come_back_as_floats() -> None:
    for alpha, beta in ((np.float32(0.25), 0.5), (0, np.float64(0.1)), (np.int8(0), 1e-12)):
        checked = check_bema_options(alpha, beta)
        assert checked == (float(alpha), float(beta))
        assert all(type(value) is float for value in checked)


@pytest.mark.parametrize(("variant", "beta"), [("paper", 0.95), ("notebook", 0.9)])
def test_negative_cutoff_is_refused_not_clamped(variant: str, beta: float) -> None:
    with pytest.raises(ValueError, match=r"too large for so small a layer.*use a smaller beta"):
        bema_fit(noise((2, 2)), beta=beta, variant=variant)  # type: ignore[arg-type]
    assert tracy_widom_margin(1.0, 10_000, beta, variant) > 0  # type: ignore[arg-type]


def test_other_fit_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError, match="variant"):
        bema_fit(noise(), variant=["paper"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="good-fit threshold"):
        bema_fit(noise(), good_fit_threshold="0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be a positive integer"):
        tracy_widom_margin(0.5, 0, 0.1)


def test_tracy_widom_tails_and_nan() -> None:
    assert tw1_cdf(math.inf) == 1.0 and tw1_cdf(1e300) == 1.0
    assert tw1_cdf(-math.inf) == 0.0 and tw1_cdf(-1e300) == 0.0
    assert 0.0 < tw1_cdf(-11.9) < 1e-28 and tw1_cdf(15.9) > 1.0 - 1e-15
    with pytest.raises(ValueError, match="NaN"):
        tw1_cdf(math.nan)
    with pytest.raises(ValueError, match="must be a number"):
        tw1_cdf("1.0")  # type: ignore[arg-type]


@pytest.mark.parametrize("prob", [1e-30, 1e-16, 1.0 - 1e-12])
def test_tracy_widom_quantile_far_tails(prob: float) -> None:
    s = tw1_quantile(prob)
    assert -12.0 < s < 16.0
    assert tw1_cdf(s) == pytest.approx(prob, rel=1e-3)


@pytest.mark.parametrize("bad", [math.nan, 1e-31, 1.0, [0.5], "0.5"])
def test_tracy_widom_quantile_refuses(bad: object) -> None:
    with pytest.raises(ValueError, match="probability"):
        tw1_quantile(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mp_cdf([0.5, math.nan], 0.5), "NaN"),
        (lambda: mp_density([1.0], 0.5, 0.0), "sigma2"),
        (lambda: mp_density([1.0], 0.5, -1.0), "sigma2"),
        (lambda: mp_cdf([1.0], 0.5, math.inf), "sigma2"),
        (lambda: mp_edges(0.5, 1e308), "sigma2"),
        (lambda: mp_quantile([0.5], 0.5, "1"), "sigma2 must be a number"),
        (lambda: mp_cdf([1.0], "0.5"), "gamma must be a number"),
        (lambda: mp_cdf([1.0], None), "gamma must be a number"),
        (lambda: mp_quantile([0.5], 1e-14), "too elongated a matrix"),
        (lambda: bema_fit(Spectrum.from_singular_values([1.0], (1, 10**11))), "too elongated"),
        (lambda: mp_cdf(["a"], 0.5), "real numbers"),
        (lambda: mp_quantile([0.5 + 1j], 0.5), "real numbers"),
        (lambda: mp_density([1e-320], 1.0, 1e-300), "overflows"),
    ],
)
def test_mp_functions_raise_value_error(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_mp_cdf_at_infinities_and_huge_ratios() -> None:
    np.testing.assert_array_equal(mp_cdf([-math.inf, math.inf, 1e308], 0.3, 1e-300), [0, 1, 1])
    np.testing.assert_array_equal(mp_density([-math.inf, math.inf], 0.3), [0.0, 0.0])


def test_estimators_stay_finite_for_huge_spectra() -> None:
    spec = Spectrum.from_eigenvalues([1e300, 1e300, 1e299], (3, 3000))
    assert [energy_rank(spec, f) for f in (0.4, 0.5, 1.0)] == [1, 2, 3]
    with pytest.raises(ValueError, match="energy fraction"):
        energy_rank(spec, "all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="noise fraction"):
        keep_rank(1, 3, None)  # type: ignore[arg-type]


def test_histogram_degenerate_and_bad_values() -> None:
    for values in ([0.0], [1e300], [-5.0], [1.7e308], [18.96, 18.96 + 4e-15], [1.0, 2.0, 3.0]):
        edges, density = histogram(np.array(values * 2), bins=20, upper=min(values))
        assert np.isfinite(edges).all() and np.isfinite(density).all() and density.sum() > 0
        assert edges[0] <= min(values) <= edges[-1]
    with pytest.raises(ValueError, match="NaN or infinite histogram values"):
        histogram(np.array([1.0, math.nan]))
    with pytest.raises(ValueError, match="no values"):
        histogram(np.zeros(0))
    assert to_scale(1e308, 10_000, "singular") == pytest.approx(1e156)
    x, y = mp_curve(bema_fit(noise() * 1e153), scale="singular")
    assert np.isfinite(x).all() and np.isfinite(y).all()
