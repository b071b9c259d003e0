"""Power-law fit of an eigenvalue tail, as WeightWatcher 0.7.7's default ``analyze()`` makes it.

WeightWatcher (``fit='PL'``, ``pl_package='ww'``, ``xmax=None``, ``fix_fingers=False``) fits the
eigenvalues ``x = s**2`` of ``W^T W`` (no ``1/n``: its ``normalize`` is off) that exceed
``EVALS_THRESH = 1e-5``. Sorted ascending, every value but the largest is a candidate ``xmin``;
the tail above candidate ``i`` has ``n_i = N - i`` values and the continuous MLE
``alpha_i = 1 + n_i / sum_{j >= i} log(x_j / x_i)``. Its KS distance is the one-sided
``max_j |1 - (x_j / x_i)**(1 - alpha_i) - (j - i) / n_i|`` and the fit keeps the first candidate
of least distance. Below ``SMALL_N_CUTOFF = 20`` values it uses the bias-corrected
``1 + (n_i - 1) / sum log(x_j / x_i)`` on tails of at least 8 values (in 0.7.7 it computes an
objective ``D_i - 0.868 / sqrt(n_i)`` but still keeps the least ``D_i``).

Here no candidate is visited in a Python loop: the log sums are reversed cumulative sums, and the
KS distances are evaluated as blocks of a candidates-by-values table, first on every 16th value
(lower bounds that rule most candidates out), then exactly for the few that remain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

EVALS_THRESH = 1e-5
"""WeightWatcher drops eigenvalues ``s**2`` at or below this before the power-law fit."""
SMALL_N_CUTOFF = 20
"""Below this many values WeightWatcher switches to its small-sample fit."""
SMALL_N_MIN_TAIL = 8
"""The small-sample fit's shortest tail."""
SMALL_N_MIN_LOG_SUM = 1e-12
"""The small-sample fit skips tails whose log sum is at most this (all values tied)."""
TIED_ALPHA = 1e300
"""A finite stand-in for an infinite exponent in the KS formula (same CDF, no NaN)."""
BOUND_STRIDE = 16
"""Every how many values the KS lower bounds that prune candidates are taken."""
SEEDS = 8
"""Candidates of least lower bound scored exactly to start the pruning."""
SHORT_TAIL = 4 * BOUND_STRIDE
"""Tails this short are scored exactly from the start (their bounds see too few values)."""
BLOCK_VALUES = 1 << 21
"""Entries of the candidates-by-values KS table evaluated at once (16 MB in float64)."""


@dataclass(frozen=True)
class PowerLawFit:
    """The chosen power law: exponent, tail start and end, KS distance and tail size."""

    alpha: float
    xmin: float
    xmax: float
    ks_distance: float
    sigma: float
    n_tail: int


def _tail_log_sums(log_x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """``(sum_{j >= i} log(x_j / x_i), n_i)`` for each candidate ``i`` (all values but the last)."""
    n = np.arange(log_x.size, 1, -1)
    suffix = np.cumsum(log_x[::-1])[::-1][:-1]
    return suffix - n * log_x[:-1], n


def _ks_distances(
    log_x: NDArray[np.float64], decay: NDArray[np.float64], rows: NDArray[np.int64], stride: int = 1
) -> NDArray[np.float64]:
    """One-sided KS distance of the tail of each candidate in ``rows`` (ascending), in blocks.

    WeightWatcher's formula with ``decay = 1 - alpha`` per candidate. With ``stride > 1`` only
    every ``stride``-th value of each block's tails enters the maximum, a lower bound on the
    distance made of the very same terms.
    """
    out = np.empty(rows.size)
    per_block = max(1, BLOCK_VALUES * stride // log_x.size)
    for start in range(0, rows.size, per_block):
        i = rows[start : start + per_block]
        cols = np.arange(i[0], log_x.size, stride)
        gap = np.maximum(log_x[None, cols] - log_x[i, None], 0.0)
        gap *= decay[i, None]
        np.expm1(gap, out=gap)
        ecdf = (cols[None, :] - i[:, None]) / (log_x.size - i)[:, None]
        gap += np.maximum(ecdf, 0.0, out=ecdf)
        out[start : start + per_block] = np.max(np.abs(gap, out=gap), axis=1)
    return out


def _least_distance(log_x: NDArray[np.float64], alphas: NDArray[np.float64]) -> tuple[int, float]:
    """First candidate of least KS distance and that distance, as WeightWatcher chooses it.

    Candidates with tails of at most ``SHORT_TAIL`` values, and the ``SEEDS`` of least lower
    bound (every ``BOUND_STRIDE``-th value), are scored exactly; then only the candidates whose
    bound does not exceed the best score so far are, so the choice (ties to the first) is the
    one a full scan makes. An infinite exponent (a tied tail) is evaluated as ``TIED_ALPHA``:
    WeightWatcher's CDF, 0 at ``x_i`` and 1 above.
    """
    decay = 1.0 - np.minimum(alphas, TIED_ALPHA)
    bounds = _ks_distances(log_x, decay, np.arange(alphas.size), BOUND_STRIDE)
    seeds = np.union1d(
        np.argsort(bounds, kind="stable")[:SEEDS],
        np.arange(max(0, log_x.size - SHORT_TAIL), alphas.size),
    )
    best = float(np.min(_ks_distances(log_x, decay, seeds)))
    rows = np.flatnonzero(bounds <= best)
    exact = _ks_distances(log_x, decay, rows)
    pick = int(np.argmin(exact))
    return int(rows[pick]), float(exact[pick])


def _choose_standard(log_x: NDArray[np.float64]) -> tuple[int, float, float]:
    """Index, exponent and KS distance of the standard fit (least KS distance)."""
    sums, n = _tail_log_sums(log_x)
    with np.errstate(divide="ignore"):
        alphas = 1.0 + n / sums
    best, distance = _least_distance(log_x, alphas)
    return best, float(alphas[best]), distance


def _choose_small(log_x: NDArray[np.float64]) -> tuple[int, float, float]:
    """Index, exponent and KS distance of WeightWatcher's small-sample fit.

    WeightWatcher computes its small-sample objective but then, like the standard fit, keeps
    the candidate of least KS distance; candidates it skips have ``alpha = 0`` and ``D = 1``.
    """
    sums, n = _tail_log_sums(log_x)
    usable = (n >= SMALL_N_MIN_TAIL) & (sums > SMALL_N_MIN_LOG_SUM)
    if not usable.any() and sums[0] > SMALL_N_MIN_LOG_SUM:
        usable[0] = True
    alphas = np.where(usable, 1.0 + (n - 1.0) / np.where(usable, sums, 1.0), 0.0)
    distances = np.ones_like(alphas)
    rows = np.flatnonzero(usable)
    distances[rows] = _ks_distances(log_x, 1.0 - alphas, rows)
    best = int(np.argmin(distances))
    return best, float(alphas[best]), float(distances[best])


def power_law_fit(values: ArrayLike) -> PowerLawFit | None:
    """WeightWatcher's default power-law fit of ``values`` (eigenvalues ``s**2``, any order).

    ``None`` where WeightWatcher's fit fails (fewer than two values above ``EVALS_THRESH``) or
    gives no power law: an infinite exponent (a tail of tied values) or one of at most 1.
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    x = x[x > EVALS_THRESH]
    if x.size < 2:
        return None
    log_x = np.log(x)
    choose = _choose_small if x.size < SMALL_N_CUTOFF else _choose_standard
    best, alpha, distance = choose(log_x)
    if not (np.isfinite(alpha) and alpha > 1.0):
        return None
    return PowerLawFit(
        alpha=alpha,
        xmin=float(x[best]),
        xmax=float(x[-1]),
        ks_distance=distance,
        sigma=(alpha - 1.0) / math.sqrt(x.size - best),
        n_tail=int(np.count_nonzero(x >= x[best])),
    )
