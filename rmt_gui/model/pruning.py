"""Pruning rules: choose each layer's rank from its spectrum, preview, then apply by SVD.

Planning needs only singular values (cached from the analysis), so a preview of ranks and
parameter counts is instant; applying takes one float64 SVD per layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import nn

from rmt_gui.model.analysis import DEFAULT_CACHE, SpectrumCache
from rmt_gui.model.module_layers import is_linear
from rmt_gui.model.surgery import (
    Factorize,
    LayerChange,
    bias_size,
    get_weight,
    is_factor_layer,
    owner_of,
    should_factorize,
    shrink,
    truncate,
)
from rmt_gui.model.tree import WeightTree
from rmt_gui.spectral import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    bema_fit,
    energy_rank,
    gavish_donoho_rank,
    keep_rank,
    mp_edge_rank,
)
from rmt_gui.spectral.spectrum import Spectrum

Method = Literal["bema", "rank", "gavish-donoho", "mp-edge", "energy", "shrink"]
METHODS: tuple[Method, ...] = ("bema", "rank", "gavish-donoho", "mp-edge", "energy", "shrink")


@dataclass(frozen=True)
class PruneRule:
    """How to choose ranks: a method and its parameters (GUIDE §1 for ``bema`` and ``shrink``)."""

    method: Method = "bema"
    keep_noise: float = 0.0
    rank: int | None = None
    shrink_factor: float = 0.5
    energy: float = 0.9
    min_rank: int = 1
    factorize: Factorize = "never"
    alpha: float = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    skip_poor_fit: bool = False

    def describe(self) -> str:
        """A short human-readable summary for history entries and logs."""
        text = {
            "bema": f"BEMA, keep {self.keep_noise:g} of noise",
            "rank": f"rank {self.rank}",
            "gavish-donoho": "Gavish–Donoho",
            "mp-edge": "MP edge",
            "energy": f"energy {self.energy:g}",
            "shrink": f"shrink noise ×{self.shrink_factor:g}",
        }[self.method]
        return text + (", factorised" if self.factorize != "never" else "")


@dataclass(frozen=True)
class LayerPlan:
    """The rank one layer would keep, and the resulting shape and parameter count."""

    layer: str
    shape: tuple[int, int]
    rank: int
    n_signal: int
    good_fit: bool
    factorize: bool
    params_before: int
    params_after: int
    skipped: str = ""


def output_dim(model: nn.Module) -> int:
    """The network's output width when it is a known MLP chain, else 1."""
    if isinstance(model, WeightTree) and model.chain:
        last = model.get_submodule(model.chain[-1])
        return int(last[1].out_features if isinstance(last, nn.Sequential) else last.out_features)
    return 1


def choose_rank(spectrum: Spectrum, rule: PruneRule) -> tuple[int, int, bool]:
    """``(rank to keep, BEMA n_signal, good fit)`` for one layer's spectrum under ``rule``."""
    fit = bema_fit(spectrum, alpha=rule.alpha, beta=rule.beta)
    p = spectrum.p
    floor = min(rule.min_rank, p)
    if rule.method == "bema":
        rank = keep_rank(fit.n_signal, p, rule.keep_noise, floor)
    elif rule.method == "rank":
        if rule.rank is None:
            raise ValueError("method 'rank' needs a rank")
        rank = min(int(rule.rank), p)
    elif rule.method == "gavish-donoho":
        rank = max(gavish_donoho_rank(spectrum), floor)
    elif rule.method == "mp-edge":
        rank = max(mp_edge_rank(spectrum, fit), floor)
    elif rule.method == "energy":
        rank = max(energy_rank(spectrum, rule.energy), floor)
    elif rule.method == "shrink":
        rank = fit.n_signal
    else:
        raise ValueError(f"unknown pruning method {rule.method!r}")
    return rank, fit.n_signal, fit.good_fit


def plan_layer(model: nn.Module, layer: str, rule: PruneRule, cache: SpectrumCache) -> LayerPlan:
    """Plan one layer from its cached spectrum, without touching the model."""
    weight = get_weight(model, layer).cpu().float().numpy()
    shape = (int(weight.shape[0]), int(weight.shape[1]))
    rank, n_signal, good = choose_rank(cache.spectrum(weight), rule)
    bias = bias_size(model, layer)
    before = shape[0] * shape[1] + bias
    skipped = "poor MP fit" if rule.skip_poor_fit and not good else ""
    split = (
        rule.method != "shrink"
        and not skipped
        and is_linear(owner_of(model, layer))
        and not is_factor_layer(model, layer)
        and should_factorize(rank, shape, rule.factorize)
    )
    after = rank * (shape[0] + shape[1]) + bias if split else before
    return LayerPlan(layer, shape, rank, n_signal, good, split, before, after, skipped)


def plan(
    model: nn.Module, layers: list[str], rule: PruneRule, cache: SpectrumCache = DEFAULT_CACHE
) -> list[LayerPlan]:
    """A :class:`LayerPlan` for each of ``layers``."""
    return [plan_layer(model, layer, rule, cache) for layer in layers]


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
