"""Activation-whitened truncation of a linear layer (SVD-LLM, Wang et al., ICLR 2025).

With ``G = X^T X`` the Gram of the layer's calibration inputs (:mod:`rmt_gui.model.calibration`)
and ``S`` its lower Cholesky factor (``G = S S^T``), the output error of any replacement ``W'`` is
``||(W - W') X^T||_F = ||(W - W') S||_F``. So the best rank-``k`` ``W'`` for the data is
``U_k Σ_k V_k^T S^{-1}`` with ``W S = U Σ V^T``: each dropped singular value of ``W S`` costs
exactly its square in output error, while plain SVD weighs every input direction alike, dead
pixels included. The result is the project's factorised pair
``Linear(in, k, bias=False) -> Linear(k, out)`` with weights ``Σ_k^{1/2} V_k^T S^{-1}`` and
``U_k Σ_k^{1/2}`` (the split of :mod:`surgery`), rebalanced per component (see
:meth:`WhitenedSVD.factors`).

Regularisation: MNIST border pixels (and dead ReLU units of a hidden layer) are constant zero, so
``G`` is singular. We add a ridge ``λ · mean(diag G) · I`` (``λ`` = :data:`RIDGE`) instead of
dropping those inputs: every input keeps a finite weight (an image that lights a pixel the
calibration never saw still gets the plain projection of that weight column), the factor pair
keeps all ``in`` inputs, and directions the data never visits weigh ``λ`` as much as a typical one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rmt_gui.model.decomposition import GramSVD
from rmt_gui.model.rule import Factorize
from rmt_gui.model.surgery import LayerChange, SurgeryError, get_weight, truncate

RIDGE = 1e-4
"""``λ``: the ridge added to the Gram, relative to its mean diagonal (the mean input energy)."""


@dataclass(frozen=True)
class Whitener:
    """``S``, the lower Cholesky factor of the ridged Gram, float64 ``[in, in]``."""

    factor: torch.Tensor

    @classmethod
    def of(cls, gram: torch.Tensor, ridge: float = RIDGE) -> Whitener:
        """The whitener of ``gram`` + ``ridge · mean(diag) · I``; :class:`SurgeryError` if empty."""
        gram = gram.to(torch.float64)
        scale = float(gram.diagonal().mean()) if gram.numel() else 0.0
        if not scale > 0:
            raise SurgeryError("the calibration inputs of this layer are all zero")
        eye = torch.eye(gram.shape[0], dtype=torch.float64)
        return cls(torch.linalg.cholesky(gram + ridge * scale * eye))


@dataclass(frozen=True)
class WhitenedSVD(GramSVD):
    """Thin SVD of ``W S`` (``weight`` holds ``W S``) whose factors map back by ``S^{-1}``
    (a triangular solve for the kept rows only: ``S^{-1}`` itself is never formed).

    It is a :class:`GramSVD`, so :func:`surgery.truncate` rebuilds the layer from it unchanged:
    ``factors`` returns the kept part of ``W`` as a rebalanced thin SVD.
    """

    whitener: torch.Tensor

    @classmethod
    def of_layer(cls, weight: torch.Tensor, whitener: Whitener) -> WhitenedSVD:
        """Decompose ``weight`` ``(out, in)`` in the whitened input space of ``whitener``."""
        if weight.shape[1] != whitener.factor.shape[0]:
            raise SurgeryError(
                f"weight has {weight.shape[1]} inputs, calibration has {whitener.factor.shape[0]}"
            )
        dec = GramSVD.of(weight.detach().to(torch.float64) @ whitener.factor)
        return cls(dec.weight, dec.s, dec.basis, dec.right, whitener.factor)

    def factors(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(U', s', V'^T)``: the thin SVD of the kept part ``U_k Σ_k V_k^T S^{-1}`` of ``W``.

        ``Σ_k V_k^T S^{-1}`` is re-decomposed (``k x in``, cheap) so the pair is rebalanced:
        orthonormal factors split by ``sqrt(s')`` as plain surgery does. Taken as they are, the
        whitened factors are far apart in scale (the Gram is a sum over images) and not
        orthogonal, and SGD on such a pair diverges.
        """
        u, s, vh = super().factors(idx)
        back = torch.linalg.solve_triangular(self.whitener, vh, upper=False, left=False)
        left, values, right = torch.linalg.svd(s[:, None] * back, full_matrices=False)
        return u @ left, values, right


def whitened_decomposition(model: nn.Module, layer: str, gram: torch.Tensor) -> WhitenedSVD:
    """The :class:`WhitenedSVD` of weight ``layer`` of ``model`` for input Gram ``gram``."""
    return WhitenedSVD.of_layer(get_weight(model, layer), Whitener.of(gram))


def whitened_truncate(
    model: nn.Module,
    layer: str,
    rank: int,
    gram: torch.Tensor,
    factorize: Factorize = "if_smaller",
) -> tuple[nn.Module, LayerChange]:
    """Keep the top ``rank`` whitened triplets of ``layer`` (a new model, the old one intact)."""
    return truncate(model, layer, rank, factorize, whitened_decomposition(model, layer, gram))
