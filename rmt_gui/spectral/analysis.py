"""One layer's full spectral report: spectrum, BEMA fit and comparison ranks.

Values follow GUIDE §1: eigenvalues ``s**2 / n`` with ``n = max(out, in)``; ``sv_max`` and
``sv_threshold`` are on the singular-value scale of the ``(out, in)`` weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from numpy.typing import ArrayLike

from rmt_gui.spectral.bema import DEFAULT_ALPHA, DEFAULT_BETA, BemaResult, Variant, bema_fit
from rmt_gui.spectral.estimators import gavish_donoho_rank
from rmt_gui.spectral.spectrum import Spectrum, spectrum_of


@dataclass(frozen=True)
class LayerAnalysis:
    """Spectrum and fits of one named layer."""

    name: str
    spectrum: Spectrum
    fit: BemaResult
    rank_gavish_donoho: int
    params: int

    def to_json(self) -> dict[str, Any]:
        """The per-layer record of ``rmt-gui analyze --json``."""
        fit = self.fit
        return {
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
        }


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
