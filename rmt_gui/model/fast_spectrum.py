"""A layer's spectrum at the hardware's speed: float32 for the bulk, an exact spike count.

Normalisation as docs/method.md §1: eigenvalues ``lambda = s**2 / n``, ``n = max(out, in)``. The
route is chosen per layer by its size (:func:`uses_float32`):

- ``p = min(out, in) < FLOAT32_MIN_P``: the exact float64 Gram route of
  :func:`rmt_gui.spectral.spectrum_of` (numpy), which is the faster one for small layers;
- larger layers: the smaller Gram matrix of ``2**-e W`` (``2**e`` the power of two above
  ``max |W|``: exact, no overflow) in float32 and its ``eigvalsh``, by torch on the chosen device
  (MKL on the CPU, cuSOLVER on CUDA). Each eigenvalue is then within :attr:`RoutedSpectrum.error`
  of the float64 one, which is all the BEMA bulk fit needs; only the spike count could change,
  when a value lies within that error of the cutoff. :func:`spike_count_holds` then counts the
  eigenvalues of the float64 Gram matrix above the cutoff exactly, by Sylvester's law of
  inertia: the number of positive eigenvalues of the block-diagonal ``D`` of an ``LDL^T``
  (Bunch-Kaufman, BLAS-3) factorisation of ``G - lambda_+ n I``. A caller whose count differs
  recomputes that layer by the exact route.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from numpy.typing import NDArray

from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.spectrum import Spectrum, check_matrix, check_range, unit_scaled

if TYPE_CHECKING:
    import torch

Matrix = TypeVar("Matrix", "NDArray", "torch.Tensor")

FLOAT32_MIN_P = 1024
"""Smallest ``p`` for which the float32 route is faster than the exact numpy route on a CPU."""
UNSCALED_EXPONENT = 32
"""Weights with ``max |W|`` within ``2**+-UNSCALED_EXPONENT`` skip the unit scaling."""
FLOAT32_EPS = float(np.finfo(np.float32).eps)
ERROR_FACTOR = 64.0
"""Safety factor on the observed float32 eigenvalue error, ``~3 sqrt(n) eps32 max(mu)``."""


@dataclass(frozen=True)
class RoutedSpectrum:
    """A spectrum and a bound ``error`` on each eigenvalue's distance to the float64 one.

    ``error`` is on the eigenvalue scale ``s**2 / n``; it is 0 for the exact route.
    """

    spectrum: Spectrum
    error: float

    @property
    def exact(self) -> bool:
        """Whether the values came from the exact float64 route."""
        return self.error == 0.0

    def near(self, cutoff: float) -> bool:
        """Whether some eigenvalue lies within ``error`` of ``cutoff`` (its side is then unsure)."""
        lam = self.spectrum.eigenvalues
        return bool(np.any(np.abs(lam - cutoff) <= self.error))


def uses_float32(shape: tuple[int, ...]) -> bool:
    """Whether a weight of ``shape`` takes the float32 route (``p >= FLOAT32_MIN_P``)."""
    return len(shape) == 2 and min(shape) >= FLOAT32_MIN_P


def _float32_unit(w: NDArray) -> tuple[NDArray[np.float32], int]:
    """``(2**-e * w in float32, e)``, the Gram matrix of which stays in float32's normal range.

    Float32 weights within ``2**-32 .. 2**32`` in magnitude are returned as they are (``e = 0``):
    there the Gram matrix can neither overflow nor reach subnormals, and a power-of-two scale
    would change no rounding, only cost two copies of the weights.
    """
    if w.dtype != np.float32:
        unit, exponent = unit_scaled(w)
        return unit.astype(np.float32), exponent
    exponent = gram_exponent(max(float(w.max()), -float(w.min())))
    if exponent == 0:
        return w, 0
    return np.ldexp(w, -exponent).astype(np.float32, copy=False), exponent


def gram_exponent(top: float) -> int:
    """The power of two ``e`` to divide weights of largest magnitude ``top`` by before their Gram
    product: ``top``'s binary exponent, or 0 when that is within ``+-UNSCALED_EXPONENT`` (there
    a power-of-two scale changes no rounding in float32 or float64, and would only cost copies).
    """
    exponent = int(np.frexp(top)[1]) if top > 0 else 0
    return exponent if abs(exponent) > UNSCALED_EXPONENT else 0


def _on_cpu(device: str | torch.device) -> bool:
    """Whether ``device`` names the CPU."""
    return str(device).split(":")[0] == "cpu"


def gram(w: Matrix, right: bool) -> Matrix:
    """``W^T W`` if ``right``, else ``W W^T``, for a numpy array (numpy's BLAS) or a tensor."""
    return w.T @ w if right else w @ w.T


def smaller_gram(w: Matrix) -> Matrix:
    """``W W^T`` or ``W^T W``, whichever is smaller (``W W^T`` for a square ``W``)."""
    return gram(w, w.shape[0] > w.shape[1])


def _gram(unit: NDArray, dtype: torch.dtype, device: str | torch.device) -> torch.Tensor:
    """The smaller Gram matrix of the unit-scaled weight, in ``dtype`` on ``device``.

    On the CPU the product is numpy's (OpenBLAS, which releases the GIL like torch): 1.5-3x faster
    than torch's at p = 256-4096 on this project's AMD test machine, where MKL takes a generic
    path. The eigensolver stays torch's: scipy's is faster there but holds the GIL throughout,
    which stalls a training thread running beside it.
    """
    import torch

    if _on_cpu(device):
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        return torch.from_numpy(smaller_gram(unit.astype(np_dtype, copy=False)))
    return smaller_gram(torch.from_numpy(unit).to(device=device, dtype=dtype))


def float32_spectrum(matrix: NDArray, device: str | torch.device) -> RoutedSpectrum:
    """The spectrum by the float32 Gram route on ``device``, with its error bound.

    Values below the float32 rounding floor ``sqrt(p) eps32 max(mu)`` are set to zero, so a
    rank-deficient matrix shows zeros. ``ValueError`` as :func:`spectrum_of` for bad weights.
    """
    import torch

    w = check_matrix(matrix)
    unit, exponent = _float32_unit(w)
    mu = torch.linalg.eigvalsh(_gram(unit, torch.float32, device)).to("cpu", torch.float64).numpy()
    top = max(float(mu[-1]), 0.0)
    p, n = min(w.shape), max(w.shape)
    mu = np.where(mu > math.sqrt(p) * FLOAT32_EPS * top, mu, 0.0)
    with np.errstate(over="ignore"):
        s = np.ldexp(np.sqrt(mu), exponent)
    check_range(float(s[-1]), n)
    error = float(np.ldexp(ERROR_FACTOR * math.sqrt(n) * FLOAT32_EPS * top, 2 * exponent)) / n
    return RoutedSpectrum(Spectrum.from_singular_values(s, w.shape), error)


def positive_pivots(ld: torch.Tensor, pivots: torch.Tensor) -> int:
    """Positive eigenvalues of ``D`` in a lower ``LDL^T`` from ``torch.linalg.ldl_factor``.

    LAPACK's convention: ``pivots[k] == pivots[k+1] < 0`` marks a 2x2 block of ``D`` at
    ``(k, k+1)``, its off-diagonal stored at ``ld[k+1, k]``; a run of negative pivots is a run of
    such blocks. A 2x2 block with negative determinant has one positive eigenvalue, one with a
    positive determinant two or none (the sign of its trace).
    """
    import torch

    d = ld.diagonal()
    index = torch.arange(d.shape[0], device=d.device)
    paired = pivots < 0
    previous = torch.cat([paired.new_zeros(1), paired[:-1]])
    run_start = torch.where(paired & ~previous, index, 0).cummax(0).values
    first = index[paired & ((index - run_start) % 2 == 0)]
    a, c, b = d[first], d[first + 1], ld[first + 1, first]
    det = a * c - b * b
    trace_positive = (a + c > 0).long()
    in_blocks = torch.where(det < 0, 1, torch.where(det > 0, 2 * trace_positive, trace_positive))
    return int((d[~paired] > 0).sum()) + int(in_blocks.sum())


def count_above(matrix: NDArray, cutoff: float, device: str | torch.device) -> int:
    """Exactly how many eigenvalues ``s**2 / n`` of the float64 Gram matrix exceed ``cutoff``.

    Sylvester's law of inertia on ``G - cutoff * n * 4**-e I`` (``G`` the Gram matrix of
    ``2**-e W``), factorised ``LDL^T`` in float64 on ``device``.
    """
    import torch

    w = check_matrix(matrix)
    unit, exponent = unit_scaled(w)
    gram = _gram(unit, torch.float64, device)
    gram.diagonal().sub_(float(np.ldexp(cutoff, -2 * exponent)) * max(w.shape))
    ld, pivots, _ = torch.linalg.ldl_factor_ex(gram)
    return positive_pivots(ld, pivots)


def spike_count_holds(
    matrix: NDArray,
    routed: RoutedSpectrum,
    cutoff: float,
    n_signal: int,
    device: str | torch.device,
) -> bool:
    """Whether ``n_signal`` values above ``cutoff`` is the float64 count for ``matrix``.

    Sure without further work for the exact route or when no value is within the error of the
    cutoff; otherwise decided by :func:`count_above`. A zero cutoff (a rank-deficient bulk) is
    left to the exact route: there the count is the numerical rank, not an inertia.
    """
    if routed.exact or not routed.near(cutoff):
        return True
    return cutoff > 0.0 and count_above(matrix, cutoff, device) == n_signal


def confirmed_fit(
    matrix: NDArray,
    routed: RoutedSpectrum,
    fit: Callable[[Spectrum], BemaResult],
    exact: Callable[[], Spectrum],
    device: str | torch.device,
) -> tuple[Spectrum, BemaResult]:
    """``(spectrum, fit(spectrum))`` whose ``n_signal`` is the float64 route's.

    The fit runs on ``routed``; when :func:`spike_count_holds` refutes its count, ``exact()``
    (the layer by the exact route) is fitted instead.
    """
    result = fit(routed.spectrum)
    if spike_count_holds(matrix, routed, result.lambda_plus, result.n_signal, device):
        return routed.spectrum, result
    spectrum = exact()
    return spectrum, fit(spectrum)
