"""Per-layer rank allocation under a global parameter budget, from measured sensitivity curves.

A layer ``(out, in)`` with ``b`` bias entries costs ``k (in + out) + b`` parameters as a factor
pair of rank ``k`` and ``in * out + b`` dense; ranks where the pair is not smaller are never used
(the layer stays dense instead). Its sensitivity curve is the validation loss (mean NLL) with
only that layer truncated, measured on a geometric grid of ranks and interpolated linearly in
between. The allocation minimises the sum of the layers' loss increases (additive, as AIMET's
greedy does) subject to the budget, exactly, by dynamic programming over layers on a budget
grid of :data:`BUDGET_UNITS` steps; costs are rounded up to whole steps, so the chosen ranks
never exceed the budget.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rmt_gui.errors import RmtGuiError
from rmt_gui.model.data import MnistSplit
from rmt_gui.model.decomposition import GramSVD
from rmt_gui.model.evaluate import EvalResult, evaluate
from rmt_gui.model.surgery import LayerChange, bias_size, get_weight, truncate

BUDGET_UNITS = 4096
GRID_POINTS = 10


class BudgetError(RmtGuiError):
    """No choice of ranks fits the requested parameter budget."""


@dataclass(frozen=True)
class LayerCost:
    """Shape and bias size of one compressible layer, and what each rank costs."""

    layer: str
    shape: tuple[int, int]
    bias: int

    @classmethod
    def of(cls, model: nn.Module, layer: str) -> LayerCost:
        """The cost model of weight ``layer`` of ``model``."""
        out_dim, in_dim = get_weight(model, layer).shape
        return cls(layer, (int(out_dim), int(in_dim)), bias_size(model, layer))

    @property
    def dense(self) -> int:
        """Parameters of the layer as it is: ``in * out + bias``."""
        return self.shape[0] * self.shape[1] + self.bias

    @property
    def max_rank(self) -> int:
        """The largest rank whose factor pair is smaller than the dense layer (0 if none)."""
        out_dim, in_dim = self.shape
        return (out_dim * in_dim - 1) // (out_dim + in_dim)

    def params(self, rank: int | None) -> int:
        """Parameters at ``rank`` (``None``: dense)."""
        if rank is None:
            return self.dense
        return rank * (self.shape[0] + self.shape[1]) + self.bias


@dataclass(frozen=True)
class Sensitivity:
    """Validation loss and accuracy of the model with only ``layer`` truncated, per grid rank."""

    layer: str
    ranks: tuple[int, ...]
    losses: tuple[float, ...]
    accuracies: tuple[float, ...]
    base_loss: float

    def increase(self, ranks: np.ndarray) -> np.ndarray:
        """Interpolated loss increase over the unpruned model at each of ``ranks``."""
        return np.interp(ranks, self.ranks, self.losses) - self.base_loss


def rank_grid(max_rank: int, points: int = GRID_POINTS) -> tuple[int, ...]:
    """About ``points`` ranks from 1 to ``max_rank``, geometrically spaced (dense at low rank)."""
    if max_rank < 1:
        return ()
    grid = np.unique(np.round(np.geomspace(1, max_rank, points)).astype(int))
    return tuple(int(r) for r in grid)


def apply_ranks(
    model: nn.Module, ranks: Mapping[str, int | None], decompositions: Mapping[str, GramSVD]
) -> tuple[nn.Module, list[LayerChange]]:
    """``model`` with each layer truncated to its rank (``None``: left dense) as a factor pair."""
    changes = []
    for layer, rank in ranks.items():
        if rank is not None:
            model, change = truncate(model, layer, rank, "always", decompositions[layer])
            changes.append(change)
    return model, changes


def sensitivity_points(
    model: nn.Module, cost: LayerCost, decomposition: GramSVD, validation: MnistSplit
) -> Iterator[tuple[int, EvalResult]]:
    """``(rank, validation result)`` with only ``cost.layer`` truncated, for each grid rank."""
    for rank in rank_grid(cost.max_rank):
        pruned, _ = apply_ranks(model, {cost.layer: rank}, {cost.layer: decomposition})
        yield rank, evaluate(pruned, validation)


def _options(cost: LayerCost, curve: Sensitivity) -> tuple[np.ndarray, np.ndarray, list]:
    """Every rank of a layer and dense: their costs, loss increases and labels."""
    ranks = np.arange(1, cost.max_rank + 1)
    costs = np.append(ranks * (cost.shape[0] + cost.shape[1]) + cost.bias, cost.dense)
    losses = np.append(curve.increase(ranks), 0.0)
    return costs, losses, [*ranks.tolist(), None]


def smallest_size(costs: list[LayerCost], fixed: int) -> int:
    """The fewest parameters any allocation reaches: every layer at its cheapest option."""
    return fixed + sum(min(c.params(1), c.dense) if c.max_rank else c.dense for c in costs)


def allocate(
    costs: list[LayerCost],
    curves: Mapping[str, Sensitivity],
    budget: int,
    fixed: int,
    units: int = BUDGET_UNITS,
) -> dict[str, int | None]:
    """The ranks (``None``: dense) minimising the summed loss increase within ``budget``.

    ``fixed`` counts every parameter outside these layers; :class:`BudgetError` when even the
    smallest allocation does not fit. A budget that holds every layer dense keeps them all
    dense (the grid's rounding never truncates a model that fits as it is).
    """
    floor = smallest_size(costs, fixed)
    if budget < floor:
        raise BudgetError(
            f"the budget of {budget:,} parameters is below the smallest model ({floor:,})"
        )
    if fixed + sum(cost.dense for cost in costs) <= budget:
        return dict.fromkeys((cost.layer for cost in costs), None)
    spare = budget - fixed
    unit = max(spare / units, 1e-12)
    best = np.zeros(units + 1)
    choices, labels = [], []
    positions = np.arange(units + 1)
    for cost in costs:
        layer_costs, losses, names = _options(cost, curves[cost.layer])
        steps = np.ceil(layer_costs / unit - 1e-9).astype(np.int64)
        source = positions[None, :] - steps[:, None]
        candidates = np.where(source >= 0, best[np.clip(source, 0, None)] + losses[:, None], np.inf)
        choices.append(candidates.argmin(axis=0))
        labels.append((names, steps))
        best = candidates.min(axis=0)
    return _backtrack(costs, choices, labels, units)


def _backtrack(
    costs: list[LayerCost], choices: list[np.ndarray], labels: list, units: int
) -> dict[str, int | None]:
    """Read the optimal option of each layer back from the DP tables (last layer first)."""
    ranks: dict[str, int | None] = {}
    position = units
    for cost, choice, (names, steps) in zip(
        reversed(costs), reversed(choices), reversed(labels), strict=True
    ):
        option = int(choice[position])
        ranks[cost.layer] = names[option]
        position -= int(steps[option])
    return {cost.layer: ranks[cost.layer] for cost in costs}


def uniform_ranks(costs: list[LayerCost], fraction: float) -> dict[str, int | None]:
    """Each layer keeps ``fraction`` of its own parameters, at least rank 1 (the baseline).

    A layer whose share buys a rank at which the pair is not smaller stays dense.
    """
    ranks: dict[str, int | None] = {}
    for cost in costs:
        share = int(fraction * cost.dense) - cost.bias
        rank = max(share // (cost.shape[0] + cost.shape[1]), 1)
        ranks[cost.layer] = rank if rank <= cost.max_rank else None
    return ranks


def tensor_count(model: nn.Module) -> int:
    """Entries of every tensor ``model`` saves (parameters and buffers): the file's size count."""
    return sum(int(t.numel()) for t in model.state_dict().values() if isinstance(t, torch.Tensor))
