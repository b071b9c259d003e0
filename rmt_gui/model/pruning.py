"""Pruning rules: choose each layer's rank from its spectrum, preview, then apply by SVD.

Planning needs only singular values (cached from the analysis), so a preview of ranks and
parameter counts is instant; applying takes one float64 SVD per layer. The rule itself is
:class:`~rmt_gui.model.rule.PruneRule`, shared with the trainer's cuts. A layer whose weights
are not all finite, or whose spectrum the BEMA fit refuses, is left alone with a note saying
why; the others are planned as usual. A plan never keeps more values than the layer has now
(its numerical rank, read off the same spectrum), and splits a layer into two factors only
when it also drops values, so a plan changes a layer exactly when its rank goes down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rmt_gui.errors import one_line
from rmt_gui.model.analysis import CPU, DEFAULT_CACHE, SpectrumCache, checked_fit
from rmt_gui.model.module_layers import is_linear, linear_modules
from rmt_gui.model.rule import PruneRule
from rmt_gui.model.surgery import (
    LayerChange,
    bias_size,
    get_weight,
    is_factor_layer,
    numerical_rank,
    owner_of,
    should_factorize,
    shrink,
    submodule,
    truncate,
)
from rmt_gui.model.tree import WeightTree
from rmt_gui.spectral import (
    energy_rank,
    gavish_donoho_rank,
    keep_rank,
    mp_edge_rank,
)
from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.spectrum import Spectrum


@dataclass(frozen=True)
class LayerPlan:
    """The rank one layer has (``rank_before``) and would keep, and the parameter counts."""

    layer: str
    shape: tuple[int, int]
    rank_before: int
    rank: int
    n_signal: int
    good_fit: bool
    factorize: bool
    params_before: int
    params_after: int
    skipped: str = ""


def output_dim(model: nn.Module) -> int:
    """The default minimum rank: the outputs of the network's last linear layer, 1 if none.

    The last layer is the end of the chain for a rebuilt MLP, else the last linear layer in
    definition order, so the same network gives the same width from every file format
    (state dict, safetensors, TorchScript, a pickled module, this project's format).
    """
    tail = model
    if isinstance(model, WeightTree) and model.chain:
        tail = submodule(model, model.chain[-1])
    linears = [module for _, module in linear_modules(tail)]
    return int(linears[-1].weight.shape[0]) if linears else 1


def choose_rank(spectrum: Spectrum, fit: BemaResult, rule: PruneRule, floor: int) -> int:
    """The rank ``rule`` keeps of a layer, never below ``floor`` except for a manual rank.

    For ``shrink`` it is the number of spikes left as they are.
    """
    p = spectrum.p
    if rule.method == "bema":
        return keep_rank(fit.n_signal, p, rule.keep_noise, floor)
    if rule.method == "rank":
        return min(rule.rank or p, p)
    if rule.method == "gavish-donoho":
        return max(gavish_donoho_rank(spectrum), floor)
    if rule.method == "mp-edge":
        return max(mp_edge_rank(spectrum, fit), floor)
    if rule.method == "energy":
        return max(energy_rank(spectrum, rule.energy), floor)
    return fit.n_signal


def not_finite(weight: np.ndarray) -> str:
    """``"NaN"`` or ``"inf"`` when ``weight`` holds such values, else ``""``."""
    if np.isfinite(weight).all():
        return ""
    return "NaN" if np.isnan(weight).any() else "inf"


def _left_alone(layer: str, shape: tuple[int, int], params: int, reason: str) -> LayerPlan:
    """The plan of a layer that cannot be planned (``reason`` says why): nothing changes."""
    side = min(shape)
    return LayerPlan(layer, shape, side, side, 0, False, False, params, params, reason)


def factorize_blocker(model: nn.Module) -> str:
    """Why no layer of ``model`` can be split into two factors (``""`` when they can)."""
    if isinstance(model, torch.jit.ScriptModule):
        return "a TorchScript model cannot be factorised (its layers keep their shapes)"
    return ""


def plan_layer(
    model: nn.Module,
    layer: str,
    rule: PruneRule,
    cache: SpectrumCache,
    output_width: int,
    device: str | torch.device = CPU,
) -> LayerPlan:
    """Plan one layer from its cached spectrum (routed by size, spike count exact), untouched."""
    tensor = get_weight(model, layer).detach().cpu()
    weight = (tensor if tensor.dtype == torch.float64 else tensor.float()).numpy()
    shape = (int(weight.shape[0]), int(weight.shape[1]))
    bias = bias_size(model, layer)
    before = shape[0] * shape[1] + bias
    bad = not_finite(weight)
    if bad:
        return _left_alone(layer, shape, before, f"{bad} weights, left as they are")
    try:
        spectrum, fit = checked_fit(weight, rule.fit, cache, device)
    except ValueError as exc:
        return _left_alone(layer, shape, before, f"left as it is: {one_line(exc)}")
    current = numerical_rank(torch.from_numpy(spectrum.singular_values.copy()), shape)
    rank = min(choose_rank(spectrum, fit, rule, rule.floor(output_width, spectrum.p)), current)
    skipped = rule.skip_reason(fit)
    split = (
        rule.method != "shrink"
        and not skipped
        and rank < current
        and not factorize_blocker(model)
        and is_linear(owner_of(model, layer))
        and not is_factor_layer(model, layer)
        and should_factorize(rank, shape, rule.factorize)
    )
    after = rank * (shape[0] + shape[1]) + bias if split else before
    return LayerPlan(
        layer, shape, current, rank, fit.n_signal, fit.good_fit, split, before, after, skipped
    )


def plan(
    model: nn.Module,
    layers: list[str],
    rule: PruneRule,
    cache: SpectrumCache = DEFAULT_CACHE,
    device: str | torch.device = CPU,
) -> list[LayerPlan]:
    """A :class:`LayerPlan` for each of ``layers`` (the floor is the model's output width)."""
    width = output_dim(model)
    return [plan_layer(model, layer, rule, cache, width, device) for layer in layers]


def apply_plan(
    model: nn.Module, plans: list[LayerPlan], rule: PruneRule
) -> tuple[nn.Module, list[LayerChange]]:
    """Apply planned ranks (or noise shrinkage) layer by layer; skipped layers are left alone."""
    changes = []
    for item in plans:
        if item.skipped:
            continue
        if rule.method == "shrink":
            model, change = shrink(model, item.layer, item.rank, rule.shrink_factor)
        else:
            model, change = truncate(
                model, item.layer, item.rank, "always" if item.factorize else "never"
            )
        changes.append(change)
    return model, changes
