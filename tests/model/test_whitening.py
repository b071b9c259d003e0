"""Whitened truncation, input Grams and rank allocation on small models and MNIST slices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rmt_gui.model.allocation import (
    BudgetError,
    LayerCost,
    Sensitivity,
    allocate,
    rank_grid,
    uniform_ranks,
)
from rmt_gui.model.calibration import input_grams
from rmt_gui.model.data import MnistSplit, load_mnist
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.surgery import SurgeryError, truncate
from rmt_gui.model.tree import build_mlp, is_factor_pair
from rmt_gui.model.whitening import Whitener, whitened_decomposition, whitened_truncate
from tests.helpers.model_files import trained_mlp
from tests.helpers.paths import DATA_DIR, REPO


@pytest.fixture(scope="module")
def mnist() -> tuple[MnistSplit, MnistSplit]:
    """4,000 training images to train and calibrate on, 2,000 others to measure on."""
    train = load_mnist(DATA_DIR, train=True)
    return train.head(4000), MnistSplit(train.images[-2000:], train.labels[-2000:])


@pytest.fixture(scope="module")
def model(mnist: tuple[MnistSplit, MnistSplit]) -> torch.nn.Module:
    """A 784-64-10 MLP trained briefly on the first slice."""
    return trained_mlp(mnist[0].images, mnist[0].labels)


def test_grams_are_the_inputs_gram_of_each_layer(model, mnist) -> None:
    images = mnist[0].images[:300]
    grams = input_grams(
        model,
        MnistSplit(images, mnist[0].labels[:300]),
        ["fc1.weight", "fc2.weight"],
        batch_size=128,
    )
    x = images.flatten(1).double()
    hidden = torch.relu(model.fc1(images.flatten(1))).double()
    torch.testing.assert_close(grams["fc1.weight"], x.T @ x, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(grams["fc2.weight"], hidden.T @ hidden, rtol=1e-5, atol=1e-4)


def test_whitener_copes_with_constant_zero_pixels(model, mnist) -> None:
    gram = input_grams(model, mnist[0].head(500), ["fc1.weight"])["fc1.weight"]
    assert int((gram.diagonal() == 0).sum()) > 20  # MNIST borders never light up
    factor = Whitener.of(gram, ridge=1e-4).factor
    assert torch.isfinite(factor).all() and bool((factor.diagonal() > 0).all())
    ridged = gram + 1e-4 * gram.diagonal().mean() * torch.eye(784, dtype=torch.float64)
    torch.testing.assert_close(factor @ factor.T, ridged)


def test_whitened_pair_is_the_rank_k_whitened_optimum(model, mnist) -> None:
    gram = input_grams(model, mnist[0], ["fc1.weight"])["fc1.weight"]
    pruned, change = whitened_truncate(model, "fc1.weight", 8, gram)
    pair = pruned.fc1
    assert is_factor_pair(pair) and change.factorized
    assert (pair[0].weight.shape, pair[1].weight.shape) == ((8, 784), (64, 8))
    assert change.params_after == 8 * (784 + 64) + 64
    rows, cols = pair[0].weight.detach().double(), pair[1].weight.detach().double()
    torch.testing.assert_close(rows.norm(dim=1), cols.norm(dim=0), rtol=1e-5, atol=0)
    approx = cols @ rows
    weight = model.fc1.weight.detach().double()
    plain = truncate(model, "fc1.weight", 8, "always")[0].fc1
    plain_approx = (plain[1].weight @ plain[0].weight).detach().double()

    def output_error(w: torch.Tensor) -> float:
        return float(torch.trace((weight - w) @ gram @ (weight - w).T))

    assert output_error(approx) < 0.8 * output_error(plain_approx)
    assert model.fc1.weight.shape == (64, 784)  # the original is left intact


def test_whitened_beats_plain_svd_at_a_low_rank(mnist) -> None:
    default = open_checkpoint(REPO / "resources" / "default_model.pt").build_model()
    test = load_mnist(DATA_DIR, train=False).head(2000)
    gram = input_grams(default, mnist[0].head(2048), ["fc1.weight"])["fc1.weight"]
    whitened = evaluate(whitened_truncate(default, "fc1.weight", 20, gram)[0], test).accuracy
    plain = evaluate(truncate(default, "fc1.weight", 20, "always")[0], test).accuracy
    assert whitened > plain + 0.03, (whitened, plain)  # issue 13: 97.2% against 91.5%


def test_decomposition_refuses_a_gram_of_another_width(model) -> None:
    with pytest.raises(SurgeryError, match="inputs"):
        whitened_decomposition(model, "fc1.weight", torch.eye(10, dtype=torch.float64))


def test_rank_grid_is_sorted_within_the_useful_ranks() -> None:
    grid = rank_grid(439)
    assert grid[0] == 1 and grid[-1] == 439 and list(grid) == sorted(set(grid))
    assert rank_grid(0) == ()


def _curve(layer: str, ranks: tuple[int, ...], scale: float) -> Sensitivity:
    losses = tuple(scale / r for r in ranks)
    return Sensitivity(layer, ranks, losses, tuple(0.0 for _ in ranks), 0.0)


def test_allocation_is_the_brute_force_optimum_within_the_budget() -> None:
    model = build_mlp((784, 40, 30, 10), seed=0)
    costs = [LayerCost.of(model, f"fc{i}.weight") for i in (1, 2, 3)]
    curves = {
        c.layer: _curve(c.layer, rank_grid(c.max_rank), s)
        for c, s in zip(costs, (1, 5, 9), strict=True)
    }
    fixed = 0
    budget = 8_000
    ranks = allocate(costs, curves, budget, fixed)
    chosen = sum(c.params(ranks[c.layer]) for c in costs)
    assert chosen <= budget

    def total(option: tuple) -> float:
        return sum(
            0.0 if r is None else float(curves[c.layer].increase(np.array([r]))[0])
            for c, r in zip(costs, option, strict=True)
        )

    options = [[*range(1, c.max_rank + 1), None] for c in costs]
    fits = [
        o
        for o in itertools.product(*options)
        if sum(c.params(r) for c, r in zip(costs, o, strict=True)) <= budget
    ]
    best = min(total(o) for o in fits)
    assert total(tuple(ranks[c.layer] for c in costs)) <= best + 1e-3


def test_allocation_below_the_smallest_model_is_refused() -> None:
    model = build_mlp((784, 40, 10), seed=0)
    costs = [LayerCost.of(model, "fc1.weight")]
    curves = {"fc1.weight": _curve("fc1.weight", (1, 5, 30), 1.0)}
    with pytest.raises(BudgetError, match="below the smallest model"):
        allocate(costs, curves, 100, 460)


def test_a_budget_holding_every_layer_dense_truncates_none() -> None:
    model = build_mlp((784, 40, 30, 10), seed=0)
    costs = [LayerCost.of(model, f"fc{i}.weight") for i in (1, 2, 3)]
    curves = {c.layer: _curve(c.layer, rank_grid(c.max_rank), -1.0) for c in costs}
    dense = sum(c.dense for c in costs)
    assert set(allocate(costs, curves, dense, 0).values()) == {None}
    assert None not in allocate(costs, curves, dense - 1, 0).values()


def test_uniform_fraction_keeps_each_layers_share() -> None:
    model = build_mlp((784, 100, 10), seed=0)
    costs = [LayerCost.of(model, "fc1.weight"), LayerCost.of(model, "fc2.weight")]
    ranks = uniform_ranks(costs, 0.1)
    assert ranks["fc1.weight"] == (7850 - 100) // 884
    assert ranks["fc2.weight"] == 1  # its share buys no rank: the least is kept
