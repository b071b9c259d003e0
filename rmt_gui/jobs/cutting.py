"""One pruning cut during training: BEMA-fit every linear layer and apply the chosen variant.

Each layer is decomposed once (``eigh`` of its smaller Gram matrix, :class:`GramSVD`, in the
weights' own float32: half the float64 time, the kept factors exact to float32 rounding); the
same decomposition gives the spectrum for the fit and the vectors for the rebuild. The spike
count is the float64 one: when a value lies within the float32 error of the fitted cutoff, it is
checked by Sylvester's inertia (:func:`~rmt_gui.model.fast_spectrum.spike_count_holds`), and a
layer it refutes (or whose float32 values the fit refuses) is decomposed again in float64.

Variants (the notebook's algorithms 0-3, docs/method.md §4), with
``k = keep_rank(n_signal, p, f, min_rank)`` chosen by the same
:func:`~rmt_gui.model.pruning.choose_rank` as ``rmt-gui prune`` and the app:

- ``keep``: the top ``k`` triplets; a layer is factorised when ``k (in + out) < in * out``;
  a factor of an earlier split is never split again, only truncated;
- ``truncate``: the top ``k``, shape unchanged;
- ``shrink``: the noise singular values (after the ``n_signal`` spikes) times a factor;
- ``random``: all spikes plus ``k - n_signal`` noise directions drawn by a seeded generator.

A layer whose MP fit is poor is left alone when ``skip_poor_fit`` is set, and says so. A layer
with NaN or inf weights, or a spectrum the fit refuses, cannot be cut: the cut stops with a
:class:`SurgeryError` naming it.
"""

from __future__ import annotations

import torch
from torch import nn

from rmt_gui.errors import one_line
from rmt_gui.jobs.config import PruneConfig
from rmt_gui.jobs.events import LayerPruning
from rmt_gui.model.decomposition import GramSVD, training_dtype
from rmt_gui.model.fast_spectrum import spike_count_holds
from rmt_gui.model.module_layers import linear_modules
from rmt_gui.model.pruning import choose_rank, output_dim
from rmt_gui.model.rule import PruneRule
from rmt_gui.model.surgery import (
    LayerChange,
    SurgeryError,
    bias_size,
    get_weight,
    is_factor_layer,
    keep_subset,
    module_path,
    numerical_rank,
    shrink,
)
from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.spectrum import Spectrum


def linear_weights(model: nn.Module) -> list[str]:
    """Weight keys of every linear layer, in model order."""
    return [f"{path}.weight" if path else "weight" for path, _ in linear_modules(model)]


def _skip_reason(fit: BemaResult, rule: PruneRule, rank: int, p: int) -> str:
    """Why a layer is left alone, or ``""``."""
    poor = rule.skip_reason(fit)
    if poor:
        return poor
    if rule.method == "shrink":
        return "" if fit.n_signal < p else "no noise values to shrink"
    return "" if rank < p else f"keeps all {p} singular values"


def _indices(fit: BemaResult, rank: int, cfg: PruneConfig, gen: torch.Generator) -> torch.Tensor:
    """Indices of the kept triplets: the top ``rank``, or spikes plus a random noise subset."""
    if not cfg.random_subset or rank <= fit.n_signal:
        return torch.arange(rank)
    noise = torch.randperm(fit.p - fit.n_signal, generator=gen)[: rank - fit.n_signal]
    return torch.cat([torch.arange(fit.n_signal), noise + fit.n_signal])


def _apply(
    model: nn.Module,
    layer: str,
    svd: GramSVD,
    fit: BemaResult,
    rank: int,
    cfg: PruneConfig,
    gen: torch.Generator,
) -> tuple[nn.Module, LayerChange]:
    """Change one layer as the rule says."""
    rule = cfg.rule
    if rule.method == "shrink":
        return shrink(model, layer, fit.n_signal, rule.shrink_factor, decomposition=svd)
    mode = "never" if is_factor_layer(model, layer) else rule.factorize
    idx = _indices(fit, rank, cfg, gen)
    return keep_subset(model, layer, idx, mode, decomposition=svd)


def _fast_fit(weight: torch.Tensor, rule: PruneRule) -> tuple[GramSVD, BemaResult] | None:
    """The decomposition in the weight's precision and its fit, or ``None`` when the float64
    route must decide: the fit refuses these values, or the exact spike count refutes them."""
    svd = GramSVD.of(weight, training_dtype(weight))
    routed = svd.routed()
    try:
        fit = rule.fit(routed.spectrum)
    except ValueError:
        return None
    cpu = torch.device("cpu")
    holds = spike_count_holds(weight.numpy(), routed, fit.lambda_plus, fit.n_signal, cpu)
    return (svd, fit) if holds else None


def _analyse(model: nn.Module, layer: str, rule: PruneRule) -> tuple[GramSVD, Spectrum, BemaResult]:
    """One layer's decomposition (of its weights moved to the CPU), spectrum and fit;
    :class:`SurgeryError` naming it if refused."""
    weight = get_weight(model, layer).detach().cpu()
    try:
        fast = _fast_fit(weight, rule)
        if fast is not None:
            return fast[0], fast[0].spectrum(), fast[1]
        svd = GramSVD.of(weight)
        spectrum = svd.spectrum()
        return svd, spectrum, rule.fit(spectrum)
    except ValueError as exc:
        raise SurgeryError(f"{layer}: cannot cut this layer: {one_line(exc)}") from exc


def _unchanged(
    model: nn.Module, layer: str, svd: GramSVD, spectrum: Spectrum, fit: BemaResult, reason: str
) -> LayerPruning:
    """The record of a layer left alone."""
    shape = svd.shape
    rank = numerical_rank(svd.s, shape)
    params = shape[0] * shape[1] + bias_size(model, layer)
    return LayerPruning(
        layer, shape, rank, rank, None, (layer,), params, params, spectrum, fit, reason
    )


def prune_network(
    model: nn.Module, cfg: PruneConfig, keep_noise: float, gen: torch.Generator
) -> tuple[nn.Module, tuple[LayerPruning, ...]]:
    """Cut every linear layer of ``model`` once, keeping ``keep_noise`` of the noise values.

    Returns the new model (the input is untouched) and one record per layer.
    """
    rule = cfg.rule_at(keep_noise)
    width = output_dim(model)
    records = []
    for layer in linear_weights(model):
        svd, spectrum, fit = _analyse(model, layer, rule)
        rank = choose_rank(spectrum, fit, rule, rule.floor(width, fit.p))
        reason = _skip_reason(fit, rule, rank, fit.p)
        if reason:
            records.append(_unchanged(model, layer, svd, spectrum, fit, reason))
            continue
        model, change = _apply(model, layer, svd, fit, rank, cfg, gen)
        path = module_path(layer)
        new_layers = (f"{path}.0.weight", f"{path}.1.weight") if change.factorized else (layer,)
        records.append(
            LayerPruning(
                layer=layer,
                shape=change.shape_before,
                rank_before=change.rank_before,
                rank_after=change.rank_after,
                factor_shapes=change.factor_shapes,
                new_layers=new_layers,
                params_before=change.params_before,
                params_after=change.params_after,
                spectrum=spectrum,
                fit=fit,
            )
        )
    return model, tuple(records)
