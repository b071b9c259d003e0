"""BEMA properties and the defined degenerate cases."""

import numpy as np
import pytest

from rmt_gui.spectral import Spectrum, bema_fit, spectrum_of
from rmt_gui.spectral.bema import tracy_widom_margin


def planted(shape: tuple[int, int], thetas: list[float], seed: int = 0) -> np.ndarray:
    """Spikes ``theta_k u_k v_k^T`` plus unit-variance Gaussian noise divided by ``sqrt(n)``."""
    rng = np.random.default_rng(seed)
    out_dim, in_dim = shape
    n = max(shape)
    u, _ = np.linalg.qr(rng.standard_normal((out_dim, len(thetas) or 1)))
    v, _ = np.linalg.qr(rng.standard_normal((in_dim, len(thetas) or 1)))
    signal = (u[:, : len(thetas)] * np.asarray(thetas)) @ v[:, : len(thetas)].T
    return signal + rng.standard_normal(shape) / np.sqrt(n)


@pytest.mark.parametrize("scale", [1e-3, 0.5, 7.0])
def test_scaling_changes_sigma2_only(scale: float) -> None:
    w = planted((300, 500), [4.0, 2.5])
    base, scaled = bema_fit(w), bema_fit(scale * w)
    assert scaled.n_signal == base.n_signal == 2
    assert scaled.sigma2 == pytest.approx(scale**2 * base.sigma2, rel=1e-10)
    assert scaled.lambda_plus == pytest.approx(scale**2 * base.lambda_plus, rel=1e-10)
    assert scaled.fit_error == pytest.approx(base.fit_error, abs=1e-10)


def test_transpose_changes_nothing() -> None:
    w = planted((200, 700), [3.0, 2.0, 1.5], seed=3)
    a, b = bema_fit(w), bema_fit(w.T)
    assert (a.p, a.n, a.gamma) == (b.p, b.n, b.gamma)
    assert a.n_signal == b.n_signal == 3
    assert a.sigma2 == pytest.approx(b.sigma2, rel=1e-10)
    assert a.lambda_plus == pytest.approx(b.lambda_plus, rel=1e-10)
    assert b.shape == (700, 200)


def test_pure_noise_is_recovered() -> None:
    w = 0.3 * planted((800, 800), [], seed=5)
    fit = bema_fit(w)
    assert fit.n_signal == 0
    assert fit.sigma2 == pytest.approx(0.09 / 800, rel=0.02)
    assert fit.good_fit


def test_cutoff_formula_uses_four_thirds_exponent() -> None:
    gamma, n, t = 0.25, 1000, 0.4501432891
    expected = 1.5**2 + t * n ** (-2 / 3) * gamma ** (-1 / 6) * 1.5 ** (4 / 3)
    notebook = 1.5**2 + t * n ** (-2 / 3) * gamma ** (-1 / 6) * 1.5**4 / 3
    assert tracy_widom_margin(gamma, n, 0.1) == pytest.approx(expected, rel=1e-9)
    assert tracy_widom_margin(gamma, n, 0.1, "notebook") == pytest.approx(notebook, rel=1e-9)


def test_larger_beta_lowers_cutoff() -> None:
    spec = spectrum_of(planted((256, 512), [2.0]))
    assert bema_fit(spec, beta=0.01).lambda_plus > bema_fit(spec, beta=0.3).lambda_plus


def test_square_gamma_one() -> None:
    fit = bema_fit(planted((400, 400), [5.0, 3.0], seed=2))
    assert fit.gamma == 1.0
    assert fit.n_signal == 2
    assert np.isfinite(fit.lambda_plus)


@pytest.mark.parametrize("p", [1, 2, 5, 9])
def test_small_p_is_defined_and_never_a_good_fit(p: int) -> None:
    fit = bema_fit(planted((p, 50), [], seed=p))
    assert fit.p == p
    assert not fit.good_fit
    assert "too few" in fit.note
    assert np.isfinite(fit.sigma2) and fit.sigma2 > 0
    assert 0 <= fit.n_signal <= p


def test_square_one_by_one() -> None:
    fit = bema_fit(np.array([[2.0]]))
    assert fit.gamma == 1.0 and not fit.good_fit
    assert fit.sigma2 == pytest.approx(4.0)


def test_zero_matrix() -> None:
    fit = bema_fit(np.zeros((30, 40)))
    assert (fit.sigma2, fit.lambda_plus, fit.n_signal, fit.fit_error) == (0.0, 0.0, 0, 1.0)
    assert not fit.good_fit
    assert "zero matrix" in fit.note


def test_low_rank_matrix_counts_its_rank_as_signal() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((200, 10)) @ rng.standard_normal((10, 300))
    fit = bema_fit(w)
    assert (fit.sigma2, fit.lambda_plus, fit.n_signal) == (0.0, 0.0, 10)
    assert not fit.good_fit
    assert "rank-deficient" in fit.note


def test_rank_deficient_noise_is_fitted_above_its_zeros() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((200, 300)) / np.sqrt(300)
    w[:20] = 0.0
    fit = bema_fit(w)
    assert fit.sigma2 == pytest.approx(1 / 300, rel=0.15)
    assert fit.n_signal <= 3
    assert 0 < fit.fit_error < 0.1


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises(bad: float) -> None:
    w = np.ones((20, 30))
    w[3, 4] = bad
    with pytest.raises(ValueError, match="NaN" if np.isnan(bad) else "inf"):
        bema_fit(w)


def test_given_singular_values_equal_matrix_route() -> None:
    w = planted((120, 90), [2.0])
    s = np.linalg.svd(w, compute_uv=False)
    a = bema_fit(Spectrum.from_singular_values(s[::-1], w.shape))
    b = bema_fit(w)
    assert a.sigma2 == pytest.approx(b.sigma2, rel=1e-10)
    assert a.n_signal == b.n_signal


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"alpha": 0.5}, "alpha"), ({"beta": 0.0}, "beta"), ({"variant": "x"}, "variant")],
)
def test_bad_options_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        bema_fit(np.eye(20), **kwargs)
