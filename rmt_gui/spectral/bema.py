"""BEMA (Bulk Eigenvalue Matching Analysis) fit of an MP bulk with a Tracy–Widom cutoff.

All quantities are on the eigenvalue scale ``lambda = s**2 / n`` of GUIDE §1 (``n`` the larger
dimension of the ``(out, in)`` weight) except ``sv_threshold``, the same cutoff on the
singular-value scale, ``sqrt(n * lambda_plus)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from rmt_gui.spectral.mp import mp_cdf, mp_quantile
from rmt_gui.spectral.spectrum import Spectrum, spectrum_of
from rmt_gui.spectral.tracy_widom import tw1_quantile

Variant = Literal["paper", "notebook"]

DEFAULT_ALPHA = 0.2
DEFAULT_BETA = 0.1
GOOD_FIT_THRESHOLD = 0.1
MIN_RELIABLE_P = 10


@dataclass(frozen=True)
class BemaResult:
    """Outcome of one BEMA fit; ``note`` explains degenerate cases (empty when none)."""

    shape: tuple[int, int]
    p: int
    n: int
    gamma: float
    alpha: float
    beta: float
    sigma2: float
    lambda_plus: float
    sv_threshold: float
    n_signal: int
    fit_error: float
    good_fit: bool
    variant: Variant = "paper"
    note: str = ""

    @property
    def bulk_edge(self) -> float:
        """Upper MP edge ``sigma2 (1 + sqrt(gamma))**2`` without the Tracy–Widom margin."""
        return self.sigma2 * (1.0 + np.sqrt(self.gamma)) ** 2


def tracy_widom_margin(gamma: float, n: int, beta: float, variant: Variant = "paper") -> float:
    """Edge plus margin for unit variance: ``(1 + sqrt g)**2 + t n**(-2/3) g**(-1/6) c``.

    ``t`` is the ``1 - beta`` TW1 quantile; ``c = (1 + sqrt g)**(4/3)`` (Johnstone 2001), or the
    notebook's ``(1 + sqrt g)**4 / 3`` when ``variant == "notebook"``.
    """
    root = 1.0 + np.sqrt(gamma)
    factor = root ** (4.0 / 3.0) if variant == "paper" else root**4 / 3.0
    t = tw1_quantile(1.0 - beta)
    return float(root**2 + t * n ** (-2.0 / 3.0) * gamma ** (-1.0 / 6.0) * factor)


def fit_window(p: int, alpha: float) -> tuple[np.ndarray, float]:
    """0-based indices ``floor(alpha p) <= k < floor((1 - alpha) p)`` and the trim they stand for.

    For ``p < MIN_RELIABLE_P`` (or an empty window) the whole spectrum is used, with trim 0.
    """
    lo, hi = int(np.floor(alpha * p)), int(np.floor((1.0 - alpha) * p))
    if p < MIN_RELIABLE_P or hi <= lo:
        return np.arange(p), 0.0
    return np.arange(lo, hi), alpha


def _as_spectrum(data: Spectrum | ArrayLike) -> Spectrum:
    """Accept a :class:`Spectrum` or a 2-D matrix."""
    return data if isinstance(data, Spectrum) else spectrum_of(data)


def bema_fit(
    data: Spectrum | ArrayLike,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    variant: Variant = "paper",
    good_fit_threshold: float = GOOD_FIT_THRESHOLD,
) -> BemaResult:
    """Fit the MP bulk to a layer's spectrum (a :class:`Spectrum` or a matrix), GUIDE §1 steps 1–6.

    ``sigma2`` is the least-squares slope through the origin of the window's sorted eigenvalues
    against unit MP quantiles at ``k / p``; eigenvalues above ``lambda_plus`` are signal.
    ``fit_error`` is the largest gap between the fitted MP CDF at the window's eigenvalues and the
    window's empirical CDF spread over ``[alpha, 1 - alpha]`` (``alpha + (1 - 2 alpha) j / m``).
    Degenerate inputs are defined: ``p < 10`` fits the whole spectrum and is never a good fit;
    when the window is all zeros (a zero or low-rank matrix) ``sigma2 = lambda_plus = 0``,
    every non-zero value is signal and ``fit_error = 1``.
    """
    if not 0.0 <= alpha < 0.5:
        raise ValueError(f"alpha must be in [0, 0.5), got {alpha}")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must be in (0, 1), got {beta}")
    if variant not in ("paper", "notebook"):
        raise ValueError(f"variant must be 'paper' or 'notebook', got {variant!r}")
    spec = _as_spectrum(data)
    p, n, gamma = spec.p, spec.n, spec.gamma
    lam = spec.eigenvalues[::-1]
    idx, trim = fit_window(p, alpha)
    q = mp_quantile(idx / p, gamma)
    qq = float(q @ q)
    sigma2 = float(q @ lam[idx]) / qq if qq > 0 else float(np.mean(lam[idx]))
    notes = []
    if p < MIN_RELIABLE_P:
        notes.append(f"only {p} singular values: too few for a reliable MP fit")
    if sigma2 <= 0.0:
        notes.append(
            "zero matrix: no spectrum to fit"
            if lam[-1] <= 0.0
            else "rank-deficient: the bulk is zero, every non-zero value counts as signal"
        )
        lambda_plus, fit_error = 0.0, 1.0
    else:
        lambda_plus = sigma2 * tracy_widom_margin(gamma, n, beta, variant)
        empirical = trim + (1.0 - 2.0 * trim) * np.arange(idx.size) / idx.size
        fit_error = float(np.max(np.abs(mp_cdf(lam[idx], gamma, sigma2) - empirical)))
    return BemaResult(
        shape=spec.shape,
        p=p,
        n=n,
        gamma=gamma,
        alpha=alpha,
        beta=beta,
        sigma2=sigma2,
        lambda_plus=lambda_plus,
        sv_threshold=float(np.sqrt(n * lambda_plus)),
        n_signal=int(np.count_nonzero(lam > lambda_plus)),
        fit_error=fit_error,
        good_fit=not notes and fit_error < good_fit_threshold,
        variant=variant,
        note="; ".join(notes),
    )
