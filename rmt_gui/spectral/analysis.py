"""One layer's full spectral report: spectrum, BEMA fit, comparison ranks, WeightWatcher metrics.

Values follow docs/method.md §1: eigenvalues ``s**2 / n`` with ``n = max(out, in)``; ``sv_max`` and
``sv_threshold`` are on the singular-value scale of the ``(out, in)`` weight. The WeightWatcher
metrics use its own scale, ``s**2`` (see :mod:`rmt_gui.spectral.ww_metrics`).

``good_fit`` measures the bulk only: the largest CDF gap of the fitted MP law over the middle
``[alpha, 1 - alpha]`` of the eigenvalues (docs/method.md §3), blind to the tail. ``heavy_tail``
says when the power-law exponent of the tail shows the MP curve misses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmt_gui.spectral.bema import DEFAULT_ALPHA, DEFAULT_BETA, BemaResult, Variant, bema_fit
from rmt_gui.spectral.estimators import gavish_donoho_rank
from rmt_gui.spectral.spectrum import MIN_TOP_EIGENVALUE, Spectrum, spectrum_of
from rmt_gui.spectral.ww_metrics import WWMetrics, ww_metrics


@dataclass(frozen=True)
class LayerAnalysis:
    """Spectrum and fits of one named layer."""

    name: str
    spectrum: Spectrum
    fit: BemaResult
    rank_gavish_donoho: int
    params: int

    @cached_property
    def ww(self) -> WWMetrics:
        """WeightWatcher's metrics of the spectrum, computed on first use."""
        return ww_metrics(self.spectrum)

    def to_json(self) -> dict[str, Any]:
        """The per-layer record of ``rmt-gui analyze --json``; ``note`` only for degenerate fits.

        The WeightWatcher metrics follow the fit's fields under their WeightWatcher names.
        """
        fit = self.fit
        record = {
            "name": self.name,
            "shape": list(self.spectrum.shape),
            "params": self.params,
            "sv_max": float(self.spectrum.singular_values[0]),
            "n_signal": fit.n_signal,
            "sigma2": fit.sigma2,
            "lambda_plus": fit.lambda_plus,
            "sv_threshold": fit.sv_threshold,
            "fit_error": fit.fit_error,
            "good_fit": fit.good_fit,
            "rank_gavish_donoho": self.rank_gavish_donoho,
            **self.ww.to_json(),
        }
        return {**record, "note": fit.note} if fit.note else record


def analyze_spectrum(
    name: str,
    spectrum: Spectrum,
    params: int | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    variant: Variant = "paper",
) -> LayerAnalysis:
    """Fit BEMA and Gavish–Donoho to a known spectrum; ``params`` defaults to ``out * in``."""
    out_dim, in_dim = spectrum.shape
    return LayerAnalysis(
        name=name,
        spectrum=spectrum,
        fit=bema_fit(spectrum, alpha=alpha, beta=beta, variant=variant),
        rank_gavish_donoho=gavish_donoho_rank(spectrum),
        params=out_dim * in_dim if params is None else params,
    )


def analyze_matrix(
    name: str,
    matrix: ArrayLike,
    params: int | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    variant: Variant = "paper",
) -> LayerAnalysis:
    """Spectrum (values-only Gram route) and fits of one 2-D weight."""
    return analyze_spectrum(
        name, spectrum_of(matrix), params, alpha=alpha, beta=beta, variant=variant
    )


def top_singular_values(stack: NDArray[np.floating]) -> NDArray[np.float64]:
    """Largest singular value of each matrix of a ``(k, out, in)`` stack, by one batched Gram route.

    For layers too small to fit, where only ``sv_max`` is shown: thousands of them cost one call.
    Each matrix is scaled by its own binary exponent (exact), as :func:`spectrum_of` does; ``NaN``
    marks a matrix with NaN or infinite weights or a top eigenvalue ``s**2 / n`` outside
    float64's range, which :func:`spectrum_of` would refuse with its message.
    """
    w = np.asarray(stack, dtype=np.float64)
    n = max(w.shape[1:])
    finite = np.asarray(np.isfinite(w).all(axis=(1, 2)))  # an array: numpy's stub allows a scalar
    w = np.where(finite[:, None, None], w, 0.0)
    exponent = np.frexp(np.abs(w).max(axis=(1, 2)))[1]
    unit = np.ldexp(w, -exponent[:, None, None])
    flipped = unit.transpose(0, 2, 1)
    gram = unit @ flipped if w.shape[1] <= w.shape[2] else flipped @ unit
    with np.errstate(over="ignore", under="ignore"):
        top = np.ldexp(np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[:, -1], 0.0)), exponent)
        eigenvalue = top * (top / n)
    in_range = np.isfinite(eigenvalue) & ((top == 0.0) | (eigenvalue >= MIN_TOP_EIGENVALUE))
    return np.where(finite & in_range, top, np.nan)
