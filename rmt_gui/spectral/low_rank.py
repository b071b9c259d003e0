"""Singular values of a low-rank product ``scale · B · A`` without forming it.

A LoRA update ``ΔW = scale · B · A``, ``B`` of shape ``(m, r)`` and ``A`` of shape ``(r, n)``, has
rank at most ``r``. With the reduced QR factorisations ``B = Q_B R_B`` and ``Aᵀ = Q_A R_A`` the
product is ``Q_B (R_B R_Aᵀ) Q_Aᵀ``; ``Q_B`` and ``Q_A`` have orthonormal columns, so the singular
values of ``ΔW`` are those of the small ``r × r`` core ``scale · R_B R_Aᵀ``. Cost ``O((m + n) r²)``
time and ``O((m + n) r)`` memory instead of ``O(m n r)`` and ``O(m n)``.

The full spectrum of the ``(m, n)`` matrix is those values followed by ``min(m, n) - r`` exact
zeros; eigenvalues follow docs/method.md §1 (``s**2 / max(m, n)``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmt_gui.spectral.checks import check_finite
from rmt_gui.spectral.spectrum import Spectrum

RANK_TOLERANCE = 1e-12
"""Singular values below this fraction of the largest are rounding, not rank (float64 QR)."""


def low_rank_singular_values(b: ArrayLike, a: ArrayLike, scale: float = 1.0) -> NDArray[np.float64]:
    """The ``min(m, n, r)`` largest singular values of ``scale · B · A``, descending, in float64.

    ``b`` is ``(m, r)`` and ``a`` is ``(r, n)``; ``ValueError`` for other shapes or non-finite
    entries. The rest of the ``min(m, n)`` singular values are exactly zero.
    """
    b64 = np.asarray(b, dtype=np.float64)
    a64 = np.asarray(a, dtype=np.float64)
    if b64.ndim != 2 or a64.ndim != 2 or b64.shape[1] != a64.shape[0]:
        raise ValueError(
            f"factors do not chain: B is {b64.shape} and A is {a64.shape}, expected (m, r), (r, n)"
        )
    if not np.isfinite(scale):
        raise ValueError(f"the update's scale {scale} is not a finite number")
    check_finite(b64, "weights")
    check_finite(a64, "weights")
    # numpy's stub types every qr() as QRResult; mode="r" returns the R factor alone
    r_b: NDArray[np.float64] = np.linalg.qr(b64, mode="r")  # type: ignore[assignment]
    r_a: NDArray[np.float64] = np.linalg.qr(a64.T, mode="r")  # type: ignore[assignment]
    core = abs(scale) * (r_b @ r_a.T)
    return np.linalg.svd(core, compute_uv=False)


def numerical_rank(values: NDArray[np.float64]) -> int:
    """How many of the descending ``values`` exceed :data:`RANK_TOLERANCE` times the largest."""
    if values.size == 0 or values[0] == 0.0:
        return 0
    return int(np.count_nonzero(values > RANK_TOLERANCE * values[0]))


def low_rank_spectrum(b: ArrayLike, a: ArrayLike, scale: float = 1.0) -> Spectrum:
    """The spectrum of the ``(m, n)`` matrix ``scale · B · A``: its ``r`` values, then zeros."""
    values = low_rank_singular_values(b, a, scale)
    shape = (np.shape(b)[0], np.shape(a)[1])
    padded = np.zeros(min(shape))
    kept = min(values.size, padded.size)
    padded[:kept] = values[:kept]
    return Spectrum.from_singular_values(padded, shape)
