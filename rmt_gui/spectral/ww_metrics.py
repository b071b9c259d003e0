"""WeightWatcher 0.7.7's per-layer metrics, from a layer's singular values.

WeightWatcher works on the eigenvalues ``x = s**2`` of ``W^T W`` (no ``1/n``; its ``normalize``
is off), all ``min(out, in)`` of them, and base-10 logarithms:
``log_norm = log10(sum x)``, ``log_spectral_norm = log10(max x)``,
``stable_rank = sum x / max x``, ``alpha`` from :func:`~rmt_gui.spectral.heavy_tail.power_law_fit`
and ``alpha_weighted = alpha * log_spectral_norm``. ``mp_softrank`` is what its ``mp_fit=True``
adds: ``bulk_max / max x`` on eigenvalues rescaled to mean 1, where ``bulk_max`` is the MP edge
``(sigma (1 + 1/sqrt(Q)))**2`` (``Q = n / p``) of a ``sigma`` fitted to a linear-kernel density
estimate (bandwidth 0.1) by a grid search polished by Nelder–Mead (``scipy.optimize.fmin``), as
its ``fit_density_with_range`` does. Its label (its column ``warning``) is ``"over-trained"`` for
``alpha < 2``, ``"under-trained"`` for ``alpha > 6`` and ``""`` between. ``None`` marks what is
undefined: a zero matrix, or no power-law fit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from rmt_gui.spectral.heavy_tail import power_law_fit
from rmt_gui.spectral.spectrum import Spectrum

OVER_TRAINED_ALPHA = 2.0
"""WeightWatcher labels a layer ``"over-trained"`` below this alpha."""
UNDER_TRAINED_ALPHA = 6.0
"""WeightWatcher labels a layer ``"under-trained"`` above this alpha."""
HEAVY_TAIL_ALPHA = 4.0
"""Below this alpha the MP bulk cannot describe the tail (heavy-tailed, Martin & Mahoney)."""
KDE_BANDWIDTH = 0.1
"""WeightWatcher's density estimate: a linear kernel of this bandwidth on rescaled values."""
KDE_POINTS = 1000
"""Points of the density estimate, on ``[0, max + 0.5]``."""
KDE_FLOOR = 0.01
"""Density below which WeightWatcher leaves a point out of the MP residual."""
OUT_OF_RANGE_RESIDUAL = 1000.0
"""The residual WeightWatcher assigns to each point when the MP support misses the peak."""
METRIC_KEYS = (
    "alpha", "alpha_weighted", "log_norm", "log_spectral_norm", "stable_rank", "mp_softrank",
    "warning", "heavy_tail",
)  # fmt: skip
"""The keys a layer record of ``analyze --json`` carries for these metrics."""


@dataclass(frozen=True)
class WWMetrics:
    """WeightWatcher's metrics of one layer; ``None`` where undefined."""

    alpha: float | None
    alpha_weighted: float | None
    log_norm: float | None
    log_spectral_norm: float | None
    stable_rank: float | None
    mp_softrank: float | None
    warning: str | None
    heavy_tail: bool | None

    def to_json(self) -> dict[str, float | str | bool | None]:
        """The metrics under :data:`METRIC_KEYS`."""
        return asdict(self)


def ww_label(alpha: float | None) -> str | None:
    """WeightWatcher's label for ``alpha`` (``""`` when neither), ``None`` without an alpha."""
    if alpha is None:
        return None
    if alpha < OVER_TRAINED_ALPHA:
        return "over-trained"
    return "under-trained" if alpha > UNDER_TRAINED_ALPHA else ""


def linear_kde(values: NDArray[np.float64], grid: NDArray[np.float64]) -> NDArray[np.float64]:
    """Linear-kernel density ``sum_i max(0, 1 - |g - v_i| / h) / (N h)`` at ``grid``, exact.

    scikit-learn's ``KernelDensity(kernel='linear')``, by prefix sums over sorted values.
    """
    v = np.sort(values)
    h = KDE_BANDWIDTH
    prefix = np.concatenate(([0.0], np.cumsum(v)))
    lo, mid, hi = (np.searchsorted(v, grid + d, side="right") for d in (-h, 0.0, h))
    below = (mid - lo) * (1.0 - grid / h) + (prefix[mid] - prefix[lo]) / h
    above = (hi - mid) * (1.0 + grid / h) - (prefix[hi] - prefix[mid]) / h
    return np.maximum(below + above, 0.0) / (v.size * h)


def _mp_residual(
    sigma: NDArray[np.float64], x: NDArray[np.float64], density: NDArray[np.float64], q: float
) -> NDArray[np.float64]:
    """WeightWatcher's ``resid_mp`` sum of squares for each ``sigma`` (quarter circle at Q = 1)."""
    s2 = (sigma * sigma)[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if q == 1.0:
            model = np.nan_to_num(np.sqrt(4.0 - x**2) / (np.pi * s2))
            return np.sum((model - density) ** 2, axis=1)
        b = (sigma * (1.0 + math.sqrt(1.0 / q))) ** 2
        a = (sigma * (1.0 - math.sqrt(1.0 / q))) ** 2
        root = np.sqrt((b[:, None] - x) * (x - a[:, None]))
        model = np.nan_to_num(q / (2.0 * np.pi * s2 * x) * root)
    peak = x[np.argmax(density)]
    missed = (b < peak) | (b > x[-1]) | (a > peak)
    fitted = np.sum((model - density) ** 2, axis=1)
    return np.where(missed, x.size * OUT_OF_RANGE_RESIDUAL**2, fitted)


def mp_softrank(eigenvalues: NDArray[np.float64], q: float) -> float | None:
    """WeightWatcher's ``mp_softrank``: fitted MP edge over the largest of ``x = s**2``.

    ``q = n / p``; the values are rescaled to mean 1 (its ``rescale``); ``None`` for a zero
    matrix or a density estimate with no point above its floor.
    """
    total = float(np.sum(eigenvalues))
    if total <= 0.0:
        return None
    x = eigenvalues * (eigenvalues.size / total)
    fit_on = np.sqrt(x) if q == 1.0 else x
    grid = np.linspace(0.0, np.max(fit_on) + 0.5, KDE_POINTS)
    density = linear_kde(fit_on, grid)
    keep = density > KDE_FLOOR
    if not keep.any():
        return None
    scale = math.sqrt(np.max(x) / (1.0 + 1.0 / math.sqrt(q)) ** 2)
    sigmas = np.mgrid[slice(0.05 * scale, 2.0 * scale, 0.01 * scale)]
    args = (grid[keep], density[keep], q)
    start = sigmas[int(np.argmin(_mp_residual(sigmas, *args)))]
    sigma = optimize.fmin(lambda s: _mp_residual(s, *args)[0], start, disp=False)[0]
    return float((sigma * (1.0 + 1.0 / math.sqrt(q))) ** 2 / np.max(x))


def ww_metrics(spectrum: Spectrum) -> WWMetrics:
    """WeightWatcher's metrics of a layer's spectrum (scale: ``x = s**2``, logs base 10)."""
    s = spectrum.singular_values
    if s[0] <= 0.0:
        return WWMetrics(*[None] * len(METRIC_KEYS))
    unit = s / s[0]
    x = unit * unit
    log_spectral_norm = 2.0 * math.log10(s[0])
    stable_rank = float(np.sum(x))
    fit = power_law_fit(s * s)
    alpha = None if fit is None else fit.alpha
    return WWMetrics(
        alpha=alpha,
        alpha_weighted=None if alpha is None else alpha * log_spectral_norm,
        log_norm=log_spectral_norm + math.log10(stable_rank),
        log_spectral_norm=log_spectral_norm,
        stable_rank=stable_rank,
        mp_softrank=mp_softrank(x, spectrum.n / spectrum.p),
        warning=ww_label(alpha),
        heavy_tail=None if alpha is None else alpha < HEAVY_TAIL_ALPHA,
    )
