"""BEMA (Bulk Eigenvalue Matching Analysis) fit of an MP bulk with a Tracy–Widom cutoff.

All quantities are on the eigenvalue scale ``lambda = s**2 / n`` of docs/method.md §1 (``n`` the
larger dimension of the ``(out, in)`` weight) except ``sv_threshold``, the same cutoff on the
singular-value scale, ``sqrt(n * lambda_plus)``.

Every result is finite, or the call raises ``ValueError`` with a message for users: options out
of range (:func:`check_bema_options`), a spectrum outside float64's range (see
:mod:`rmt_gui.spectral.spectrum`), or a ``beta`` so large for so small a layer that the
Tracy–Widom cutoff would be negative.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
from numpy.typing import ArrayLike

from rmt_gui.spectral.checks import real_number
from rmt_gui.spectral.mp import check_gamma, mp_cdf, mp_quantile
from rmt_gui.spectral.spectrum import Spectrum, spectrum_of
from rmt_gui.spectral.tracy_widom import MAX_PROB, tw1_quantile

Variant = Literal["paper", "notebook"]

DEFAULT_ALPHA = 0.2
DEFAULT_BETA = 0.1
GOOD_FIT_THRESHOLD = 0.1
MIN_RELIABLE_P = 10
MIN_BETA = 1.0 - MAX_PROB


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


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float when it is a number in ``[0, 0.5)``, else ``ValueError``."""
    alpha = real_number(alpha, "alpha")
    if not 0.0 <= alpha < 0.5:
        raise ValueError(f"alpha must be in [0, 0.5), got {alpha}")
    return alpha


def check_beta(beta: float) -> float:
    """``beta`` as a float when it is a number in ``[1e-12, 1)``, else ``ValueError``.

    Below ``1e-12`` the Tracy–Widom upper tail is lost in float64 rounding (see
    :func:`~rmt_gui.spectral.tracy_widom.tw1_quantile`).
    """
    beta = real_number(beta, "beta")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must be in (0, 1), got {beta}")
    if beta < MIN_BETA:
        raise ValueError(
            f"beta must be at least {MIN_BETA:.0e} (a smaller tail is lost in float64 rounding), "
            f"got {beta}"
        )
    return beta


def check_bema_options(alpha: float, beta: float) -> tuple[float, float]:
    """Validate BEMA's trim ``alpha`` and tail probability ``beta``; returns them as floats.

    The one validator for every front end (CLI, app, trainer): ``ValueError`` with a message
    ready to show, e.g. ``alpha must be in [0, 0.5), got 0.7``.
    """
    return check_alpha(alpha), check_beta(beta)


def check_variant(variant: str) -> Variant:
    """``variant`` when it is ``"paper"`` or ``"notebook"``, else ``ValueError``."""
    if not isinstance(variant, str) or variant not in ("paper", "notebook"):
        raise ValueError(f"variant must be 'paper' or 'notebook', got {reprlib.repr(variant)}")
    return cast("Variant", variant)


def tracy_widom_margin(gamma: float, n: int, beta: float, variant: Variant = "paper") -> float:
    """Edge plus margin for unit variance: ``(1 + sqrt g)**2 + t n**(-2/3) g**(-1/6) c``.

    ``t`` is the ``1 - beta`` TW1 quantile; ``c = (1 + sqrt g)**(4/3)`` (Johnstone 2001), or the
    notebook's ``(1 + sqrt g)**4 / 3`` when ``variant == "notebook"``. ``t`` is negative for
    ``beta`` above about 0.17, and for a small enough ``n`` the result would be a negative
    cutoff: the asymptotic margin is meaningless there, so that is a ``ValueError``, not a clamp.
    """
    gamma, beta, variant = check_gamma(gamma), check_beta(beta), check_variant(variant)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {reprlib.repr(n)}")
    root = 1.0 + np.sqrt(gamma)
    factor = root ** (4.0 / 3.0) if variant == "paper" else root**4 / 3.0
    t = tw1_quantile(1.0 - beta)
    margin = float(root**2 + t * float(n) ** (-2.0 / 3.0) * gamma ** (-1.0 / 6.0) * factor)
    if margin <= 0.0:
        raise ValueError(
            f"beta = {beta} is too large for so small a layer (n = {n}): the Tracy-Widom "
            "cutoff would be negative; use a smaller beta"
        )
    return margin


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


def _power_of_two_above(value: float) -> float:
    """The power of two ``2**e`` with ``value / 2**e`` in ``[0.5, 1)``; 1 for zero."""
    return float(np.ldexp(1.0, int(np.frexp(value)[1])))


def _check_threshold(threshold: float) -> float:
    """The good-fit threshold as a float when it is a positive number, else ``ValueError``."""
    threshold = real_number(threshold, "the good-fit threshold")
    if not threshold > 0.0:
        raise ValueError(f"the good-fit threshold must be positive, got {threshold}")
    return threshold


def bema_fit(
    data: Spectrum | ArrayLike,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    variant: Variant = "paper",
    good_fit_threshold: float = GOOD_FIT_THRESHOLD,
) -> BemaResult:
    """Fit the MP bulk to a layer's spectrum (a :class:`Spectrum` or a matrix), docs/method.md §3.

    ``sigma2`` is the least-squares slope through the origin of the window's sorted eigenvalues
    against unit MP quantiles at ``k / p``; eigenvalues above ``lambda_plus`` are signal.
    ``fit_error`` is the largest gap between the fitted MP CDF at the window's eigenvalues and the
    window's empirical CDF spread over ``[alpha, 1 - alpha]`` (``alpha + (1 - 2 alpha) j / m``).
    The fit runs on eigenvalues divided by the power of two above the largest (exact), so
    it is scale-equivariant and its sums cannot overflow.
    Degenerate inputs are defined: ``p < 10`` fits the whole spectrum and is never a good fit;
    when the window is all zeros (a zero or low-rank matrix) ``sigma2 = lambda_plus = 0``,
    every non-zero value is signal and ``fit_error = 1`` (the largest possible CDF gap).
    """
    alpha, beta = check_bema_options(alpha, beta)
    variant = check_variant(variant)
    good_fit_threshold = _check_threshold(good_fit_threshold)
    spec = _as_spectrum(data)
    p, n, gamma = spec.p, spec.n, spec.gamma
    lam = spec.eigenvalues[::-1]
    scale = _power_of_two_above(lam[-1])
    unit = lam / scale
    idx, trim = fit_window(p, alpha)
    q = mp_quantile(idx / p, gamma)
    qq = float(q @ q)
    sigma2 = float(q @ unit[idx]) / qq if qq > 0 else float(np.mean(unit[idx]))
    notes = []
    if p < MIN_RELIABLE_P:
        plural = "" if p == 1 else "s"
        notes.append(f"only {p} singular value{plural}: too few for a reliable MP fit")
    if sigma2 <= 0.0:
        notes.append(
            "zero matrix: the layer is all zeros, there is no spectrum to fit"
            if lam[-1] <= 0.0
            else "rank-deficient: the bulk is zero, every non-zero value counts as signal"
        )
        lambda_plus, fit_error = 0.0, 1.0
    else:
        lambda_plus = sigma2 * tracy_widom_margin(gamma, n, beta, variant)
        empirical = trim + (1.0 - 2.0 * trim) * np.arange(idx.size) / idx.size
        fit_error = float(np.max(np.abs(mp_cdf(unit[idx], gamma, sigma2) - empirical)))
    n_signal = int(np.count_nonzero(unit > lambda_plus))
    sigma2, lambda_plus = sigma2 * scale, lambda_plus * scale
    if not math.isfinite(4.0 * max(sigma2, lambda_plus)):
        raise ValueError(
            "values too large for float64: the fitted bulk overflows; rescale the weights"
        )
    return BemaResult(
        shape=spec.shape,
        p=p,
        n=n,
        gamma=gamma,
        alpha=alpha,
        beta=beta,
        sigma2=sigma2,
        lambda_plus=lambda_plus,
        sv_threshold=math.sqrt(lambda_plus) * math.sqrt(n),
        n_signal=n_signal,
        fit_error=fit_error,
        good_fit=not notes and fit_error < good_fit_threshold,
        variant=variant,
        note="; ".join(notes),
    )
