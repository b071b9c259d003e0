"""Histogram and fitted-density curves ready to draw, on either spectral scale.

``scale="eigen"`` uses ``lambda = s**2 / n`` (docs/method.md §1); ``scale="singular"`` uses the
singular values ``s`` of the ``(out, in)`` weight. The MP density transforms with the Jacobian
``d lambda / d s = 2 s / n`` so the curve and a density histogram share one axis.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.checks import check_finite, real_array, real_number
from rmt_gui.spectral.mp import mp_density, mp_edges
from rmt_gui.spectral.spectrum import Spectrum

Scale = Literal["eigen", "singular"]
_MAX_FLOAT = float(np.finfo(np.float64).max)


def spectrum_values(spectrum: Spectrum, scale: Scale = "eigen") -> NDArray[np.float64]:
    """The spectrum on ``scale``, sorted descending."""
    return spectrum.eigenvalues if scale == "eigen" else spectrum.singular_values


def to_scale(eigenvalue: float, n: int, scale: Scale) -> float:
    """Map one eigenvalue-scale position (a cutoff or an edge) to ``scale``."""
    value = real_number(eigenvalue, "an eigenvalue")
    return value if scale == "eigen" else math.sqrt(max(value, 0.0)) * math.sqrt(n)


def histogram(
    values: NDArray[np.float64], bins: int = 60, log: bool = False, upper: float | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bin ``values``; returns ``(edges, density)`` with ``len(edges) == bins + 1``.

    ``log`` bins ``log10`` of the positive values (edges are then in ``log10`` units);
    ``upper`` caps the range so a few far spikes do not squeeze the bulk into one bin; the
    density stays normalised over all values, so it overlays the MP density on the same scale.
    A range too narrow to split into ``bins`` distinct floats (one value, or an ``upper`` at or
    below the smallest) becomes ``max(1, |lo| / 1000)`` wide. ``ValueError`` for no values or
    NaN or infinite ones.
    """
    v = real_array(values, "histogram values").ravel()
    if v.size == 0:
        raise ValueError("no values to draw a histogram of")
    check_finite(v, "histogram values")
    if log:
        v = np.log10(v[v > 0]) if np.any(v > 0) else np.zeros(1)
    hi = float(v.max()) if upper is None else real_number(upper, "the histogram's upper end")
    lo = float(v.min())
    if not hi - lo > 4 * bins * np.spacing(max(abs(lo), abs(hi))):  # too narrow to split
        pad = max(1.0, abs(lo) * 1e-3)
        lo, hi = (lo - pad, lo) if lo + pad > _MAX_FLOAT else (lo, lo + pad)
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return edges, counts / (v.size * np.diff(edges))


def mp_curve(
    fit: BemaResult, scale: Scale = "eigen", log: bool = False, points: int = 400
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The fitted MP density sampled over its bulk, on ``scale``; empty for a degenerate fit.

    With ``log`` the abscissa is ``log10`` of the scale and the density is per unit of it.
    The unit-variance density ``f(u)``, ``u = lambda / sigma2``, is rescaled through
    ``x * density(x) = f(u) * u`` (eigenvalues) or ``2 f(u) u`` (singular values), so no
    intermediate overflows; ``ValueError`` only when the eigenvalue density itself exceeds
    float64 (a ``sigma2`` near the smallest normal float).
    """
    if fit.sigma2 <= 0.0:
        return np.zeros(0), np.zeros(0)
    a, b = mp_edges(fit.gamma)
    theta = np.linspace(0.0, np.pi, points)
    u = (a + b) / 2.0 - (b - a) / 2.0 * np.cos(theta)
    if scale == "eigen":
        x, moment = u * fit.sigma2, mp_density(u, fit.gamma) * u
    else:
        x = np.sqrt(u) * (math.sqrt(fit.sigma2) * math.sqrt(fit.n))
        moment = 2.0 * mp_density(u, fit.gamma) * u
    if log:
        keep = x > 0
        return np.log10(x[keep]), moment[keep] * np.log(10.0)
    with np.errstate(over="ignore"):
        dens = np.divide(moment, x, out=np.zeros_like(x), where=x > 0)
    if not np.all(np.isfinite(dens)):
        raise ValueError(f"the MP density overflows float64 for sigma2 = {fit.sigma2}")
    return x, dens
