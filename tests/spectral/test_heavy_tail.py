"""WeightWatcher's power-law fit and metrics: against ``powerlaw``, a loop, planted layers."""

import contextlib
import io
import math
import warnings

import numpy as np
import powerlaw
import pytest

from rmt_gui.spectral import Spectrum, analyze_matrix
from rmt_gui.spectral.heavy_tail import EVALS_THRESH, power_law_fit
from rmt_gui.spectral.ww_metrics import METRIC_KEYS, linear_kde, mp_softrank, ww_label, ww_metrics
from tests.helpers.planted_spectra import heavy_tailed, planted
from tests.helpers.ww_reference import reference_fit


def powerlaw_package_fit(sample: np.ndarray) -> powerlaw.Power_Law:
    """The ``powerlaw`` package's continuous power law, by its own xmin scan, silenced.

    Its default exponent range ends at 3, so the samples here are drawn below that.
    """
    quiet = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet):
        warnings.simplefilter("ignore")
        return powerlaw.Fit(sample, verbose=False).power_law


@pytest.mark.parametrize(("size", "alpha"), [(50, 2.5), (200, 2.2), (1000, 2.0), (400, 1.8)])
def test_xmin_scan_matches_the_powerlaw_package(size: int, alpha: float) -> None:
    sample = np.random.default_rng(size).pareto(alpha - 1.0, size) + 1.0
    fit = power_law_fit(sample)
    assert fit is not None
    ref = powerlaw_package_fit(sample)
    assert fit.xmin == ref.xmin
    assert fit.alpha == pytest.approx(ref.alpha, rel=1e-9)
    assert fit.ks_distance == pytest.approx(ref.D, abs=1e-9)
    assert fit.alpha == pytest.approx(alpha, rel=0.25)


@pytest.mark.parametrize("size", [9, 15, 19, 20, 64, 384, 600])
def test_fast_fit_is_the_candidate_loop(size: int) -> None:
    rng = np.random.default_rng(size)
    for values in (
        np.linalg.svd(rng.standard_normal((size, 2 * size)), compute_uv=False) ** 2,
        np.exp(rng.standard_normal(size)),
    ):
        fit = power_law_fit(values)
        assert fit is not None
        alpha, xmin, distance = reference_fit(values)
        assert (fit.alpha, fit.xmin) == (pytest.approx(alpha, rel=1e-12), xmin)
        assert fit.ks_distance == pytest.approx(distance, abs=1e-12)
        assert fit.n_tail == np.count_nonzero(values >= xmin)
        assert fit.xmax == values.max()


def test_values_at_or_below_the_threshold_are_left_out() -> None:
    values = np.random.default_rng(0).pareto(1.5, 300) + 1.0
    padded = np.concatenate([values, np.full(50, EVALS_THRESH), np.zeros(20)])
    assert power_law_fit(padded) == power_law_fit(values)


@pytest.mark.parametrize(
    "values", [np.zeros(10), np.array([1.0]), np.ones(30)], ids=["zeros", "one", "tied"]
)
def test_no_power_law_is_none(values: np.ndarray) -> None:
    assert power_law_fit(values) is None


def test_norm_metrics_of_a_planted_layer() -> None:
    s = np.linspace(10.0, 1.0, 40)
    metrics = analyze_matrix("w", planted(s, (40, 90))).ww
    assert metrics.log_spectral_norm == pytest.approx(2.0)
    assert metrics.log_norm == pytest.approx(math.log10(np.sum(s**2)))
    assert metrics.stable_rank == pytest.approx(np.sum(s**2) / 100.0)
    assert metrics.alpha == pytest.approx(power_law_fit(s**2).alpha, rel=1e-9)
    assert metrics.alpha_weighted == pytest.approx(metrics.alpha * 2.0)


def test_a_power_law_spectrum_gives_its_exponent() -> None:
    quantiles = (np.arange(400) + 0.5) / 400
    eigenvalues = quantiles ** (-1.0 / 1.5)  # Pareto with alpha = 2.5, x >= 1
    spectrum = Spectrum.from_singular_values(np.sqrt(eigenvalues), (400, 800))
    metrics = ww_metrics(spectrum)
    assert metrics.alpha == pytest.approx(2.5, rel=0.05)
    assert metrics.warning == "" and metrics.heavy_tail is True


def test_zero_layer_has_no_metrics() -> None:
    metrics = ww_metrics(Spectrum.from_singular_values(np.zeros(12), (12, 20)))
    assert all(value is None for value in metrics.to_json().values())
    assert tuple(metrics.to_json()) == METRIC_KEYS


@pytest.mark.parametrize(
    ("alpha", "label"),
    [(1.99, "over-trained"), (2.0, ""), (6.0, ""), (6.01, "under-trained"), (None, None)],
)
def test_weightwatcher_labels(alpha: float | None, label: str | None) -> None:
    assert ww_label(alpha) == label


def test_linear_kde_is_the_kernel_sum() -> None:
    values = np.random.default_rng(1).exponential(size=200)
    grid = np.linspace(0.0, values.max() + 0.5, 300)
    kernel = np.maximum(0.0, 1.0 - np.abs(grid[:, None] - values[None, :]) / 0.1)
    assert linear_kde(values, grid) == pytest.approx(kernel.sum(axis=1) / (200 * 0.1), abs=1e-12)


def test_mp_softrank_near_one_for_noise_and_small_with_a_spike() -> None:
    noise = np.random.default_rng(2).standard_normal((300, 600))
    x = np.linalg.svd(noise, compute_uv=False) ** 2
    assert mp_softrank(x, 2.0) == pytest.approx(1.0, abs=0.15)
    spiked = x.copy()
    spiked[0] *= 20.0
    assert mp_softrank(spiked, 2.0) < 0.1
    assert mp_softrank(np.zeros(10), 2.0) is None


def test_heavy_tail_flag_where_the_bulk_fit_is_good() -> None:
    analysis = analyze_matrix("w", heavy_tailed((300, 600)))
    assert analysis.fit.good_fit and analysis.ww.heavy_tail
    noise = analyze_matrix("n", np.random.default_rng(3).standard_normal((300, 600)))
    assert noise.fit.good_fit and noise.ww.heavy_tail is False
