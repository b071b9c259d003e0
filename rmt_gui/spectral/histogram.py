"""Histogram and fitted-density curves ready to draw, on either spectral scale.

``scale="eigen"`` uses ``lambda = s**2 / n`` (GUIDE §1); ``scale="singular"`` uses the singular
values ``s`` of the ``(out, in)`` weight. The MP density transforms with the Jacobian
``d lambda / d s = 2 s / n`` so the curve and a density histogram share one axis.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.mp import mp_density, mp_edges
from rmt_gui.spectral.spectrum import Spectrum

Scale = Literal["eigen", "singular"]


def spectrum_values(spectrum: Spectrum, scale: Scale = "eigen") -> NDArray[np.float64]:
    """The spectrum on ``scale``, sorted descending."""
    return spectrum.eigenvalues if scale == "eigen" else spectrum.singular_values


def to_scale(eigenvalue: float, n: int, scale: Scale) -> float:
    """Map one eigenvalue-scale position (a cutoff or an edge) to ``scale``."""
    return float(eigenvalue) if scale == "eigen" else float(np.sqrt(max(eigenvalue, 0.0) * n))


def histogram(
    values: NDArray[np.float64], bins: int = 60, log: bool = False, upper: float | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bin ``values``; returns ``(edges, density)`` with ``len(edges) == bins + 1``.

    ``log`` bins ``log10`` of the positive values (edges are then in ``log10`` units);
    ``upper`` caps the range so a few far spikes do not squeeze the bulk into one bin; the
    density stays normalised over all values, so it overlays the MP density on the same scale.
    """
    v = np.asarray(values, dtype=np.float64)
    if log:
        v = np.log10(v[v > 0]) if np.any(v > 0) else np.zeros(1)
    hi = float(v.max()) if upper is None else float(upper)
    lo = float(v.min())
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return edges, counts / (v.size * np.diff(edges))


def mp_curve(
    fit: BemaResult, scale: Scale = "eigen", log: bool = False, points: int = 400
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The fitted MP density sampled over its bulk, on ``scale``; empty for a degenerate fit.

    With ``log`` the abscissa is ``log10`` of the scale and the density is per unit of it.
    """
    if fit.sigma2 <= 0.0:
        return np.zeros(0), np.zeros(0)
    a, b = mp_edges(fit.gamma, fit.sigma2)
    theta = np.linspace(0.0, np.pi, points)
    lam = (a + b) / 2.0 - (b - a) / 2.0 * np.cos(theta)
    dens = mp_density(lam, fit.gamma, fit.sigma2)
    x = lam
    if scale == "singular":
        x = np.sqrt(lam * fit.n)
        dens = dens * 2.0 * x / fit.n
    if log:
        keep = x > 0
        return np.log10(x[keep]), dens[keep] * x[keep] * np.log(10.0)
    return x, dens
