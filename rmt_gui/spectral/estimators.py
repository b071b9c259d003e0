"""Rank estimators to compare with BEMA, and the paper's keep rule.

Each takes a :class:`~rmt_gui.spectral.spectrum.Spectrum` (singular values of an ``(out, in)``
weight); thresholds on singular values are on the singular-value scale of that matrix.
"""

from __future__ import annotations

import math

import numpy as np

from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.checks import real_number
from rmt_gui.spectral.spectrum import Spectrum


def gavish_donoho_omega(gamma: float) -> float:
    """Cubic approximation of the optimal hard-threshold coefficient ``omega(gamma)``.

    Gavish & Donoho (2014), unknown noise level: threshold ``omega(gamma) * median(s)``.
    """
    return 0.56 * gamma**3 - 0.95 * gamma**2 + 1.82 * gamma + 1.43


def gavish_donoho_threshold(spectrum: Spectrum) -> float:
    """Optimal hard threshold on singular values when the noise level is unknown."""
    return gavish_donoho_omega(spectrum.gamma) * float(np.median(spectrum.singular_values))


def gavish_donoho_rank(spectrum: Spectrum) -> int:
    """Number of singular values above the Gavish–Donoho threshold."""
    return int(np.count_nonzero(spectrum.singular_values > gavish_donoho_threshold(spectrum)))


def mp_edge_rank(spectrum: Spectrum, fit: BemaResult) -> int:
    """Count above the plain MP edge ``sigma2 (1 + sqrt(gamma))**2`` (no Tracy–Widom margin)."""
    if fit.sigma2 <= 0.0:
        return 0
    return int(np.count_nonzero(spectrum.eigenvalues > fit.bulk_edge))


def energy_rank(spectrum: Spectrum, fraction: float = 0.9) -> int:
    """Smallest ``k`` whose top ``k`` singular values hold ``fraction`` of ``sum(s**2)``.

    The energies are taken relative to the largest, so the running sum cannot overflow.
    """
    fraction = real_number(fraction, "energy fraction")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"energy fraction must be in (0, 1], got {fraction}")
    top = spectrum.eigenvalues[0]
    if top == 0.0:
        return 0
    energy = np.cumsum(spectrum.eigenvalues / top)
    return int(np.searchsorted(energy, fraction * energy[-1] * (1 - 1e-12)) + 1)


def keep_rank(n_signal: int, p: int, fraction: float, min_rank: int = 1) -> int:
    """The paper's rule: all ``n_signal`` spikes plus ``floor(fraction * noise)`` noise values.

    The result is never below ``min_rank`` (the network's output dimension in the paper) and
    never above ``p``.
    """
    fraction = real_number(fraction, "noise fraction")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"noise fraction must be in [0, 1], got {fraction}")
    if not 0 <= n_signal <= p:
        raise ValueError(f"n_signal must be in [0, {p}], got {n_signal}")
    kept = n_signal + math.floor(fraction * (p - n_signal) + 1e-9)
    return int(min(p, max(kept, min_rank)))
