"""The Marchenko–Pastur law in closed form: density, CDF and a vectorised quantile.

Normalisation: ``W`` of shape ``(p, n)`` (either orientation) with iid entries of variance
``sigma2``; ``gamma = p / n`` with ``0 < gamma <= 1``; the eigenvalues are those of the smaller
Gram matrix divided by the larger dimension, ``lambda = s**2 / n``. Their limiting law lives on
``[a, b] = sigma2 * [(1 - sqrt(gamma))**2, (1 + sqrt(gamma))**2]`` and has no atom at zero.

Closed forms use the substitution ``x = sigma2 * (1 + gamma - 2 sqrt(gamma) cos(theta))``,
``theta`` in ``[0, pi]``, which turns the CDF into elementary functions.

Arguments are checked: ``gamma`` in ``[1e-10, 1]``, ``sigma2`` a positive float64 whose bulk edge
``4 sigma2`` stays finite, no NaN among the points; anything else is a ``ValueError``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmt_gui.spectral.checks import real_array, real_number

_NEWTON_MAX_STEPS = 60
_NEWTON_TOL = 1e-14
_GRID_SIZE = 2049
_MAX_SIGMA2 = float(np.finfo(np.float64).max) / 4.0
MIN_GAMMA = 1e-10


def check_gamma(gamma: float) -> float:
    """Return ``gamma`` as a float, or raise ``ValueError`` unless ``MIN_GAMMA <= gamma <= 1``.

    Below ``MIN_GAMMA`` the closed-form CDF (terms of order 1 that cancel down to order gamma)
    loses more than 1e-6 to rounding; only a matrix 1e10 times longer than wide gets there.
    """
    gamma = real_number(gamma, "gamma")
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    if gamma < MIN_GAMMA:
        raise ValueError(
            f"gamma = p/n is {gamma:.3g}, below {MIN_GAMMA:g}: too elongated a matrix for the "
            "MP law in float64"
        )
    return gamma


def check_sigma2(sigma2: float) -> float:
    """Return ``sigma2`` as a float, or raise ``ValueError`` unless ``0 < sigma2 <= max / 4``."""
    sigma2 = real_number(sigma2, "sigma2")
    if not 0.0 < sigma2 <= _MAX_SIGMA2:
        raise ValueError(
            f"sigma2 must be a positive float64 at most {_MAX_SIGMA2:.3g}, got {sigma2}"
        )
    return sigma2


def _points(x: ArrayLike) -> NDArray[np.float64]:
    """Evaluation points as float64; ``ValueError`` for NaN (infinities are allowed)."""
    x = real_array(x, "MP evaluation points")
    if np.any(np.isnan(x)):
        raise ValueError("MP evaluation points contain NaN")
    return x


def mp_edges(gamma: float, sigma2: float = 1.0) -> tuple[float, float]:
    """Lower and upper edge ``(a, b)`` of the MP bulk on the eigenvalue scale."""
    root = np.sqrt(check_gamma(gamma))
    sigma2 = check_sigma2(sigma2)
    return sigma2 * (1.0 - root) ** 2, sigma2 * (1.0 + root) ** 2


def _theta(x: NDArray[np.float64], gamma: float) -> NDArray[np.float64]:
    """Angle ``theta`` in ``[0, pi]`` of unit-variance eigenvalues ``x`` (clipped to the bulk).

    ``x - a = 4 sqrt(g) sin(theta/2)**2`` and ``b - x = 4 sqrt(g) cos(theta/2)**2``, so an
    ``arctan2`` keeps full precision at both edges.
    """
    a, b = mp_edges(gamma)
    return 2.0 * np.arctan2(np.sqrt(np.clip(x - a, 0.0, None)), np.sqrt(np.clip(b - x, 0.0, None)))


def _x_of_theta(theta: NDArray[np.float64], gamma: float) -> NDArray[np.float64]:
    """Unit-variance eigenvalue at angle ``theta``: ``a + 4 sqrt(g) sin(theta/2)**2``."""
    return (1.0 - np.sqrt(gamma)) ** 2 + 4.0 * np.sqrt(gamma) * np.sin(theta / 2.0) ** 2


def _cdf_of_theta(theta: NDArray[np.float64], gamma: float) -> NDArray[np.float64]:
    """Unit-variance MP CDF as a function of the angle ``theta`` (closed form)."""
    a, b = mp_edges(gamma)
    half = theta / 2.0
    arc = np.arctan2(np.sqrt(b) * np.sin(half), np.sqrt(a) * np.cos(half))
    integral = (
        (1.0 + gamma) * theta + 2.0 * np.sqrt(gamma) * np.sin(theta) - 2.0 * (1.0 - gamma) * arc
    )
    return np.clip(integral / (2.0 * np.pi * gamma), 0.0, 1.0)


def _dcdf_dtheta(theta: NDArray[np.float64], gamma: float) -> NDArray[np.float64]:
    """Derivative of :func:`_cdf_of_theta` with respect to ``theta``."""
    denom = 2.0 * np.pi * gamma * _x_of_theta(theta, gamma)
    num = 4.0 * gamma * np.sin(theta) ** 2
    return np.divide(num, denom, out=np.full_like(theta, np.inf), where=denom > 0)


def _unit(x: ArrayLike, sigma2: float) -> NDArray[np.float64]:
    """Points ``x / sigma2`` on the unit-variance scale (overflow to ``inf`` is intended)."""
    with np.errstate(over="ignore"):
        return _points(x) / sigma2


def mp_density(x: ArrayLike, gamma: float, sigma2: float = 1.0) -> NDArray[np.float64]:
    """MP density ``sqrt((b - x)(x - a)) / (2 pi sigma2 gamma x)`` on ``[a, b]``, zero elsewhere.

    Computed on the unit scale and divided by ``sigma2``; ``ValueError`` where that overflows
    (a tiny ``sigma2`` with ``gamma`` near 1, where the density grows like ``x**-0.5`` at 0).
    """
    gamma, sigma2 = check_gamma(gamma), check_sigma2(sigma2)
    u = _unit(x, sigma2)
    a, b = mp_edges(gamma)
    inside = (u > a) & (u < b)
    us = np.where(inside, u, 0.5 * (a + b))
    with np.errstate(over="ignore"):
        dens = np.sqrt((b - us) * (us - a)) / (2.0 * np.pi * gamma * us) / sigma2
    if not np.all(np.isfinite(dens)):
        raise ValueError(f"the MP density overflows float64 for sigma2 = {sigma2}")
    return np.where(inside, dens, 0.0)


def mp_cdf(x: ArrayLike, gamma: float, sigma2: float = 1.0) -> NDArray[np.float64]:
    """MP cumulative distribution function in closed form (arctan terms); 0 at -inf, 1 at inf."""
    gamma, sigma2 = check_gamma(gamma), check_sigma2(sigma2)
    x = _unit(x, sigma2)
    a, b = mp_edges(gamma)
    return np.where(x >= b, 1.0, np.where(x <= a, 0.0, _cdf_of_theta(_theta(x, gamma), gamma)))


def mp_quantile(prob: ArrayLike, gamma: float, sigma2: float = 1.0) -> NDArray[np.float64]:
    """MP quantile function, vectorised over ``prob`` in ``[0, 1]``.

    A monotone interpolation of the closed-form CDF on a fine angle grid gives the start;
    Newton steps in ``theta`` (clipped to ``[0, pi]``) then run until they stop moving, which
    takes two or three steps inside the bulk and a few more in the far tails.
    """
    gamma, sigma2 = check_gamma(gamma), check_sigma2(sigma2)
    prob = real_array(prob, "probabilities")
    if np.any((prob < 0.0) | (prob > 1.0)) or np.any(np.isnan(prob)):
        raise ValueError("probabilities must lie in [0, 1]")
    grid = np.linspace(0.0, np.pi, _GRID_SIZE)
    theta = np.interp(prob, _cdf_of_theta(grid, gamma), grid)
    for _ in range(_NEWTON_MAX_STEPS):
        slope = _dcdf_dtheta(theta, gamma)
        step = np.divide(
            _cdf_of_theta(theta, gamma) - prob, slope, out=np.zeros_like(theta), where=slope > 0
        )
        new_theta = np.clip(theta - step, 0.0, np.pi)
        moved = np.max(np.abs(new_theta - theta), initial=0.0)
        theta = new_theta
        if moved < _NEWTON_TOL:
            break
    return sigma2 * _x_of_theta(theta, gamma)
