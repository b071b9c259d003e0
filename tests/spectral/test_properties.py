"""Property tests: over random spectra, shapes and options, every result is finite or a ValueError.

Hypothesis draws magnitudes across the whole float64 range (scaled by ``2**k``), every dtype
a weight file can hold, and options both valid and not (NaN, strings, out of range).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rmt_gui.spectral import (
    Spectrum,
    analyze_spectrum,
    bema_fit,
    energy_rank,
    gavish_donoho_rank,
    mp_cdf,
    mp_density,
    mp_edge_rank,
    mp_quantile,
    spectrum_of,
    tw1_cdf,
    tw1_quantile,
)
from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.histogram import histogram, mp_curve

PROPERTY = settings(
    max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
DIMS = st.integers(min_value=1, max_value=48)
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
BINARY_EXPONENTS = st.one_of(st.integers(-60, 60), st.integers(-1100, 1100))
ALPHA = st.floats(min_value=0.0, max_value=0.5, exclude_max=True)
BETA = st.one_of(  # mostly a few fixed values: each new beta costs a Tracy-Widom inversion
    st.sampled_from([1e-12, 0.01, 0.1, 0.3, 0.9, 1.0 - 1e-9]),
    st.floats(min_value=1e-12, max_value=1.0, exclude_max=True),
)
VARIANT = st.sampled_from(["paper", "notebook"])
ANY_OPTION = st.one_of(
    ALPHA, BETA, ANY_FLOAT, st.integers(-2, 2), st.text(max_size=3), st.none(), st.booleans()
)
FIT_FLOATS = ("sigma2", "lambda_plus", "sv_threshold", "fit_error", "bulk_edge")
OPTIONS_MATRIX = np.random.default_rng(0).standard_normal((30, 40))
ROUNDING = 1e-13  # monotonicity holds up to the distribution functions' own rounding


@st.composite
def spectra(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, int]]:
    """Non-negative singular values of a random shape, with ties, zeros and any magnitude."""
    shape = (draw(DIMS), draw(DIMS))
    base = draw(
        hnp.arrays(np.float64, min(shape), elements=st.floats(min_value=0.0, max_value=1e3))
    )
    with np.errstate(over="ignore"):
        return np.ldexp(base, draw(BINARY_EXPONENTS)), shape


@st.composite
def matrices(draw: st.DrawFn) -> np.ndarray:
    """Weights of any dtype a file can hold, scaled anywhere in (and beyond) float64's range."""
    dtype = draw(st.sampled_from([np.float64, np.float32, np.float16, np.int8, np.int64]))
    shape = (draw(DIMS), draw(DIMS))
    if np.dtype(dtype).kind == "i":
        return draw(hnp.arrays(dtype, shape))
    base = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e3, 1e3)))
    with np.errstate(over="ignore"):
        return np.ldexp(base, draw(BINARY_EXPONENTS)).astype(dtype)


def assert_finite(fit: BemaResult) -> None:
    """Every number of ``fit`` is finite and in its range."""
    assert all(math.isfinite(getattr(fit, key)) for key in FIT_FLOATS)
    assert fit.sigma2 >= 0.0 and fit.lambda_plus >= 0.0 and 0.0 <= fit.fit_error <= 1.0
    assert 0 <= fit.n_signal <= fit.p


def fit_or_value_error(data: Spectrum | np.ndarray, **options: object) -> BemaResult | None:
    """The fit, or ``None`` when it raised ``ValueError`` (anything else fails the test)."""
    try:
        return bema_fit(data, **options)  # type: ignore[arg-type]
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None


@PROPERTY
@given(spectra(), ALPHA, BETA, VARIANT)
def test_fit_of_any_spectrum_is_finite_or_value_error(
    drawn: tuple[np.ndarray, tuple[int, int]], alpha: object, beta: object, variant: str
) -> None:
    values, shape = drawn
    try:
        spectrum = Spectrum.from_singular_values(values, shape)
    except ValueError:
        return
    assert np.isfinite(spectrum.eigenvalues).all()
    fit = fit_or_value_error(spectrum, alpha=alpha, beta=beta, variant=variant)
    if fit is not None:
        assert_finite(fit)
        assert 0 <= mp_edge_rank(spectrum, fit) <= spectrum.p
        x, y = mp_curve(fit, scale="singular")
        assert np.isfinite(x).all() and np.isfinite(y).all()


@PROPERTY
@given(ANY_OPTION, ANY_OPTION, st.sampled_from(["paper", "notebook", "Paper", "", None]))
@pytest.mark.slow
def test_options_are_used_or_refused_with_value_error(
    alpha: object, beta: object, variant: object
) -> None:
    def number(value: object) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    valid = (
        number(alpha)
        and 0.0 <= alpha < 0.5  # type: ignore[operator]
        and number(beta)
        and 1e-12 <= beta < 1.0  # type: ignore[operator]
        and variant in ("paper", "notebook")
    )
    fit = fit_or_value_error(OPTIONS_MATRIX, alpha=alpha, beta=beta, variant=variant)
    assert (fit is not None) == valid
    if fit is not None:
        assert_finite(fit)


@PROPERTY
@given(matrices())
def test_analysis_of_any_matrix_is_finite_or_value_error(matrix: np.ndarray) -> None:
    try:
        spectrum = spectrum_of(matrix)
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    analysis = analyze_spectrum("w", spectrum)
    assert_finite(analysis.fit)
    assert 0 <= analysis.rank_gavish_donoho <= spectrum.p
    assert 0 <= energy_rank(spectrum, 0.9) <= spectrum.p
    edges, density = histogram(spectrum.singular_values, bins=20, log=True)
    assert np.isfinite(edges).all() and np.isfinite(density).all()


@PROPERTY
@given(matrices(), st.integers(min_value=-40, max_value=40))
def test_power_of_two_scaling_only_rescales(matrix: np.ndarray, k: int) -> None:
    w = np.asarray(matrix, dtype=np.float64)
    with np.errstate(over="ignore"):
        scaled_w = np.ldexp(w, k)
    base, scaled = fit_or_value_error(w), fit_or_value_error(scaled_w)
    if base is None or scaled is None:
        return
    assert scaled.n_signal == base.n_signal
    assert scaled.sigma2 == pytest.approx(math.ldexp(base.sigma2, 2 * k), rel=1e-9)
    assert scaled.fit_error == pytest.approx(base.fit_error, abs=1e-9)
    assert gavish_donoho_rank(spectrum_of(scaled_w)) == gavish_donoho_rank(spectrum_of(w))


@PROPERTY
@given(ANY_FLOAT, ANY_FLOAT)
def test_tracy_widom_cdf_is_a_distribution_function(s: float, t: float) -> None:
    if math.isnan(s) or math.isnan(t):
        with pytest.raises(ValueError, match="NaN"):
            tw1_cdf(s if math.isnan(s) else t)
        return
    lo, hi = sorted((s, t))
    assert 0.0 <= tw1_cdf(lo) <= tw1_cdf(hi) + ROUNDING <= 1.0 + ROUNDING


@settings(max_examples=10, deadline=None, database=None)
@given(st.floats(min_value=1e-12, max_value=1.0 - 1e-6))
def test_tracy_widom_quantile_inverts_cdf(prob: float) -> None:
    assert tw1_cdf(tw1_quantile(prob)) == pytest.approx(prob, rel=1e-6, abs=1e-13)


@PROPERTY
@given(
    hnp.arrays(np.float64, st.integers(1, 30), elements=ANY_FLOAT),
    st.one_of(st.floats(min_value=1e-10, max_value=1.0), ANY_FLOAT),
    st.one_of(st.floats(min_value=1e-300, max_value=1e300), ANY_FLOAT),
)
def test_mp_law_is_finite_or_value_error(x: np.ndarray, gamma: float, sigma2: float) -> None:
    try:
        cdf, density = mp_cdf(x, gamma, sigma2), mp_density(x, gamma, sigma2)
        q = mp_quantile(np.linspace(0.0, 1.0, 9), gamma, sigma2)
    except ValueError:
        return
    assert ((cdf >= 0.0) & (cdf <= 1.0)).all() and np.isfinite(density).all()
    assert (density >= 0.0).all() and np.isfinite(q).all()
    assert (np.diff(q) >= -ROUNDING * q[-1]).all()
    assert (np.diff(cdf[np.argsort(x)]) >= -ROUNDING).all()
