"""Singular values of a layer and their eigenvalue scale.

Normalisation (docs/method.md §1): a weight ``W`` of shape ``(out, in)`` has ``p = min(out, in)``,
``n = max(out, in)``, ``gamma = p / n`` and eigenvalues ``lambda_i = s_i**2 / n``.

Fast path: when only values are needed we form the smaller Gram matrix ``W W^T`` or ``W^T W``
in float64 and take its eigenvalues (``numpy.linalg.eigvalsh``), which is several times cheaper
than an SVD and, in float64, accurate to ``~1e-16 * s_max**2`` absolute on ``s**2`` — far below
the float32 rounding already present in stored weights. ``W`` is first divided by the power of
two ``2**e`` just above ``max |W|`` (exact), so the Gram matrix can neither overflow nor
underflow whatever the weights' magnitude. The full SVD is only computed where pruning needs the
singular vectors (``rmt_gui.model.surgery``).

Range: a spectrum's largest eigenvalue ``s_max**2 / n`` must be a finite, normal float64 (at
least ``MIN_TOP_EIGENVALUE``, about 2.2e-308) unless the spectrum is all zeros; layers outside
that range get a ``ValueError``. Smaller eigenvalues may still be subnormal and lose precision
gradually, far below the bulk that BEMA fits (which works on values relative to the largest).
"""

from __future__ import annotations

import operator
import reprlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmt_gui.spectral.checks import check_finite, real_array

_FLOAT64 = np.finfo(np.float64)
MIN_TOP_EIGENVALUE = float(_FLOAT64.tiny)


def _check_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """Return a validated ``(out, in)`` shape of a non-empty matrix."""
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        dims = ()
    if len(dims) != 2 or min(dims) < 1:
        raise ValueError(
            f"a layer needs a 2-D shape of positive integers, got {reprlib.repr(shape)}"
        )
    return dims[0], dims[1]


def check_range(top: float, n: int) -> None:
    """Refuse a spectrum whose largest singular value ``top`` gives ``top**2 / n`` outside range.

    ``ValueError`` when that eigenvalue overflows float64, or when it is non-zero in truth but
    below ``MIN_TOP_EIGENVALUE`` (including when it underflows to zero).
    """
    eigenvalue = top * (top / n)  # Python floats: overflow gives inf, underflow 0, no warning
    if not np.isfinite(eigenvalue):
        raise ValueError(
            "values too large for float64: the largest eigenvalue s**2/n overflows; "
            "rescale the weights"
        )
    if top > 0.0 and eigenvalue < MIN_TOP_EIGENVALUE:
        raise ValueError(
            f"values too small for float64: the largest singular value is {top:.2g}, so s**2/n "
            f"is below {MIN_TOP_EIGENVALUE:.2g}; rescale the weights"
        )


@dataclass(frozen=True)
class Spectrum:
    """Singular values of one ``(out, in)`` matrix, sorted descending, float64."""

    singular_values: NDArray[np.float64]
    shape: tuple[int, int]

    @classmethod
    def from_singular_values(cls, values: ArrayLike, shape: tuple[int, int]) -> Spectrum:
        """Build from the ``min(shape)`` singular values of a matrix of ``shape``."""
        shape = _check_shape(shape)
        s = real_array(values, "singular values").ravel()
        check_finite(s, "singular values")
        if s.size != min(shape):
            raise ValueError(
                f"expected {min(shape)} singular values for shape {shape}, got {s.size}"
            )
        if np.any(s < 0):
            raise ValueError("singular values must be non-negative")
        s = np.sort(s)[::-1].copy()
        check_range(float(s[0]), max(shape))
        s.setflags(write=False)
        return cls(s, shape)

    @classmethod
    def from_eigenvalues(cls, eigenvalues: ArrayLike, shape: tuple[int, int]) -> Spectrum:
        """Build from eigenvalues ``s**2 / n`` (docs/method.md §1); negatives are read as 0."""
        shape = _check_shape(shape)
        lam = real_array(eigenvalues, "eigenvalues")
        check_finite(lam, "eigenvalues")
        return cls.from_singular_values(
            np.sqrt(np.clip(lam, 0.0, None)) * np.sqrt(max(shape)), shape
        )

    @property
    def p(self) -> int:
        """Smaller dimension (number of singular values)."""
        return min(self.shape)

    @property
    def n(self) -> int:
        """Larger dimension (the eigenvalue scale divides by it)."""
        return max(self.shape)

    @property
    def gamma(self) -> float:
        """Aspect ratio ``p / n`` in ``(0, 1]``."""
        return self.p / self.n

    @cached_property
    def eigenvalues(self) -> NDArray[np.float64]:
        """Eigenvalues ``s**2 / n``, sorted descending (formed as ``s * (s / n)``: no overflow)."""
        return self.singular_values * (self.singular_values / self.n)


def unit_scaled(matrix: NDArray) -> tuple[NDArray[np.float64], int]:
    """``(2**-e * matrix in float64, e)`` with ``e`` the binary exponent of ``max |matrix|``.

    Entries of the result lie in ``(-1, 1)``. Integers are widened to float64 first (``abs`` of
    the most negative integer would wrap); long doubles are scaled before narrowing, so values
    beyond the float64 range still arrive here exactly.
    """
    wide = matrix.dtype.kind == "f" and matrix.dtype.itemsize > 8
    w = matrix if wide else np.asarray(matrix, dtype=np.float64)
    exponent = int(np.frexp(np.max(np.abs(w)))[1])
    return np.ldexp(w, -exponent).astype(np.float64, copy=False), exponent


def gram_eigenvalues(matrix: NDArray) -> tuple[NDArray[np.float64], int]:
    """``(mu, e)``: eigenvalues ``mu`` (ascending) of the smaller Gram matrix of ``2**-e * W``.

    ``e`` is the binary exponent of ``max |W|``, so ``s**2 = mu * 4**e`` exactly as far as the
    scaling goes, and the Gram matrix of the scaled entries (all below 1 in magnitude) stays in
    range. Values below the rounding floor ``p * eps * max(mu)`` are set to exactly zero, so a
    rank-deficient matrix shows its zeros as zeros.
    """
    w, exponent = unit_scaled(np.asarray(matrix))
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    values = np.linalg.eigvalsh(gram)
    floor = gram.shape[0] * _FLOAT64.eps * max(float(values[-1]), 0.0)
    return np.where(values > floor, values, 0.0), exponent


def check_matrix(matrix: ArrayLike) -> NDArray:
    """``matrix`` as an array when it is a non-empty, real, finite 2-D matrix, else ``ValueError``.

    The one check every spectrum route (this module's and the torch routes of ``rmt_gui.model``)
    runs first, so they refuse the same inputs with the same messages.
    """
    w = np.asarray(matrix)
    if w.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got an array with {w.ndim} dimension(s)")
    if w.size == 0:
        raise ValueError(f"expected a non-empty matrix, got shape {w.shape}")
    if w.dtype.kind not in "iuf":
        raise ValueError(f"expected a real numeric matrix, got dtype {w.dtype}")
    check_finite(w, "weights")
    return w


def spectrum_of(matrix: ArrayLike) -> Spectrum:
    """Singular values of a real 2-D ``matrix`` by the scaled Gram route (values, no vectors).

    ``ValueError`` for a non-numeric or empty array, NaN or infinite weights, and weights whose
    eigenvalues ``s**2 / n`` fall outside float64's range (see the module notes).
    """
    w = check_matrix(matrix)
    mu, exponent = gram_eigenvalues(w)
    with np.errstate(over="ignore"):
        s = np.ldexp(np.sqrt(mu), exponent)
    check_range(float(s[-1]), max(w.shape))
    return Spectrum.from_singular_values(s, w.shape)
