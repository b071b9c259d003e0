"""Singular values and vectors of a layer through its smaller Gram matrix, in torch.

One ``eigh`` of that Gram matrix instead of a full SVD (about 2-3x faster for 784x1000): with
``W^T W = V S^2 V^T`` the other side is ``U = W V / S``, and a kept part ``U_k S_k V_k^T = W V_k
V_k^T`` is exact to the working precision's rounding. All surgery and every pruning cut use it;
values alone (spectra, snapshots) come from :mod:`rmt_gui.model.fast_spectrum` and
:func:`rmt_gui.spectral.spectrum_of`.

The working precision is float64 by default (exact to float64 rounding). Training asks for the
weights' own float32 (:func:`training_dtype`): the Gram product and ``eigh`` are then about 2x
cheaper, the kept factors are exact to float32 rounding (all a float32 layer stores), and each
eigenvalue ``s**2 / n`` is within :func:`eigenvalue_error` of the float64 one, the bound of
:mod:`rmt_gui.model.fast_spectrum`, whose exact spike count then decides the fit (docs/method.md
§1 for the normalisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rmt_gui.model.fast_spectrum import ERROR_FACTOR, RoutedSpectrum, gram, gram_exponent
from rmt_gui.spectral.spectrum import Spectrum


def training_dtype(weight: torch.Tensor) -> torch.dtype:
    """float32 for weights stored in float32 or narrower, float64 for float64 weights."""
    return torch.float64 if weight.dtype == torch.float64 else torch.float32


def _gram(
    weight: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, bool, float]:
    """``(w, gram, right, scale)``: ``w`` in ``dtype`` and the smaller Gram matrix of
    ``w / scale``; ``right`` when it is ``W^T W``.

    ``scale`` is the power of two at or above ``max|W|`` (exact to divide by), so the Gram matrix
    neither overflows for weights near 1e155 nor underflows for tiny ones; singular values of
    ``W`` are those of the scaled matrix times ``scale``: 1 for most weights
    (:func:`~rmt_gui.model.fast_spectrum.gram_exponent`). On the CPU the product is numpy's
    (OpenBLAS: about 2x faster than torch's here).
    """
    w = weight.detach().to(dtype)
    top = max(float(w.max()), -float(w.min())) if w.numel() else 0.0
    scale = 2.0 ** gram_exponent(top)
    ws = w / scale if scale != 1.0 else w
    right = w.shape[1] <= w.shape[0]
    if ws.device.type == "cpu":
        return w, torch.from_numpy(gram(ws.numpy(), right)), right, scale
    return w, gram(ws, right), right, scale


def _clean(values: torch.Tensor, scale: float) -> torch.Tensor:
    """Float64 singular values (ascending) from Gram eigenvalues of ``W / scale``, the rounding
    floor zeroed: ``p eps64 max`` in float64 (as :func:`spectrum_of`), ``sqrt(p) eps32 max`` in
    float32 (as :func:`~rmt_gui.model.fast_spectrum.float32_spectrum`)."""
    p = values.shape[0]
    exact = values.dtype == torch.float64
    factor = (p if exact else math.sqrt(p)) * torch.finfo(values.dtype).eps
    values = values.to(torch.float64)
    floor = factor * max(float(values[-1]), 0.0) if p else 0.0
    return torch.where(values > floor, values, torch.zeros_like(values)).sqrt() * scale


def eigenvalue_error(s: torch.Tensor, shape: tuple[int, int], dtype: torch.dtype) -> float:
    """Bound on each eigenvalue's (``s**2 / n``) distance to the float64 one: 0 in float64,
    ``ERROR_FACTOR sqrt(n) eps32 s_max**2 / n`` in float32 (as ``fast_spectrum``)."""
    if dtype == torch.float64 or s.numel() == 0:
        return 0.0
    n = max(shape)
    eps = torch.finfo(torch.float32).eps
    return ERROR_FACTOR * math.sqrt(n) * eps * float(s[0]) ** 2 / n


@dataclass(frozen=True)
class GramSVD:
    """Thin SVD ``W = U diag(s) V^T`` of one weight (``s`` float64, descending) from one ``eigh``.

    ``weight`` and ``basis`` are in the working precision. Only the smaller side's vectors are
    stored, in ``eigh``'s ascending order (column ``p - 1 - i`` belongs to ``s[i]``: no copy to
    reverse them); the other side is formed on demand for the components a rebuild keeps (zero
    where ``s == 0``).
    """

    weight: torch.Tensor
    s: torch.Tensor
    basis: torch.Tensor
    right: bool

    @classmethod
    def of(cls, weight: torch.Tensor, dtype: torch.dtype = torch.float64) -> GramSVD:
        """Decompose a 2-D weight in ``dtype``; ``ValueError`` for NaN or inf entries."""
        if not bool(torch.isfinite(weight).all()):
            raise ValueError("NaN or infinite weights")
        w, gram, right, scale = _gram(weight, dtype)
        values, vectors = torch.linalg.eigh(gram)
        return cls(w, _clean(values, scale).flip(0), vectors, right)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.weight.shape[0]), int(self.weight.shape[1])

    def spectrum(self) -> Spectrum:
        """The singular values as a :class:`Spectrum`."""
        return Spectrum.from_singular_values(self.s.numpy(), self.shape)

    def routed(self) -> RoutedSpectrum:
        """The spectrum with the bound on its distance to the float64 one."""
        return RoutedSpectrum(self.spectrum(), eigenvalue_error(self.s, self.shape, self.dtype))

    @property
    def dtype(self) -> torch.dtype:
        """The working precision of the vectors."""
        return self.basis.dtype

    def factors(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(U[:, idx], s[idx], Vh[idx])`` for the selected components, in the working
        precision."""
        s = self.s[idx].to(self.dtype)
        chosen = self.basis[:, self.s.numel() - 1 - idx]
        inverse = torch.where(s > 0, 1.0 / s.clamp_min(torch.finfo(self.dtype).tiny), 0.0)
        if self.right:
            return (self.weight @ chosen) * inverse, s, chosen.T
        return chosen, s, ((self.weight.T @ chosen) * inverse).T
