"""SVD surgery: exact rank, best rank-k approximation, factorised pairs, immutability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.pruning import PruneRule, apply_plan, plan
from rmt_gui.model.surgery import (
    SurgeryError,
    get_weight,
    keep_subset,
    parameter_count,
    shrink,
    truncate,
)
from rmt_gui.model.tree import is_factor_pair
from rmt_gui.spectral import keep_rank
from tests.helpers.model_files import SmallCnn, mlp, save_torchscript, sequential

IMAGES = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def best_rank_k(weight: torch.Tensor, k: int) -> np.ndarray:
    """Eckart–Young: the top-k SVD reconstruction in float64 (numpy)."""
    u, s, vh = np.linalg.svd(weight.detach().double().numpy(), full_matrices=False)
    return (u[:, :k] * s[:k]) @ vh[:k]


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def assert_untouched(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0)


@pytest.mark.parametrize("rank", [1, 5, 17])
def test_truncate_is_the_best_rank_k_approximation(rank: int) -> None:
    model = mlp()
    before = snapshot(model)
    new, change = truncate(model, "fc1.weight", rank)
    weight = new.fc1.weight.detach()
    assert weight.shape == (32, 784)
    assert int(torch.linalg.matrix_rank(weight, rtol=1e-5)) == rank
    s = torch.linalg.svdvals(weight.double())
    assert float(s[rank]) < 1e-5 * float(s[0])
    np.testing.assert_allclose(weight.numpy(), best_rank_k(before["fc1.weight"], rank), atol=1e-6)
    assert (change.rank_before, change.rank_after, change.factorized) == (32, rank, False)
    assert change.params_before == change.params_after == 32 * 784 + 32
    assert new.fc2 is model.fc2
    assert_untouched(model, before)


def test_factorised_pair_computes_its_rank_k_matrix() -> None:
    model = mlp()
    before = snapshot(model)
    k = 6
    new, change = truncate(model, "fc1.weight", k, "always")
    pair = new.fc1
    assert is_factor_pair(pair)
    assert pair[0].weight.shape == (k, 784) and pair[0].bias is None
    assert pair[1].weight.shape == (32, k)
    torch.testing.assert_close(pair[1].bias, before["fc1.bias"])
    product = (pair[1].weight @ pair[0].weight).detach().double().numpy()
    np.testing.assert_allclose(product, best_rank_k(before["fc1.weight"], k), atol=1e-6)
    x = IMAGES.flatten(1)
    dense = x.double() @ torch.from_numpy(best_rank_k(before["fc1.weight"], k)).T
    with torch.no_grad():
        out = pair(x).double()
    torch.testing.assert_close(out, dense + before["fc1.bias"].double(), atol=1e-5, rtol=0)
    assert change.factor_shapes == ((k, 784), (32, k))
    assert change.params_after == k * (784 + 32) + 32
    assert (
        parameter_count(new) == parameter_count(model) - change.params_before + change.params_after
    )
    assert new.chain == ["fc1", "fc2"]
    assert_untouched(model, before)


def test_if_smaller_factorises_only_when_it_saves() -> None:
    model = mlp()
    small, change = truncate(model, "fc1.weight", 3, "if_smaller")
    assert change.factorized and is_factor_pair(small.fc1)
    big, change = truncate(model, "fc1.weight", 31, "if_smaller")
    assert big.fc1.weight.shape == (32, 784)
    assert not change.factorized
    assert 31 * (784 + 32) > 784 * 32


def test_truncate_a_factor_but_do_not_factorise_it_again() -> None:
    pair_model, _ = truncate(mlp(), "fc1.weight", 8, "always")
    new, change = truncate(pair_model, "fc1.0.weight", 3)
    assert int(torch.linalg.matrix_rank(new.fc1[0].weight, rtol=1e-5)) == 3
    assert change.rank_before == 8
    with pytest.raises(SurgeryError, match="already one factor"):
        truncate(pair_model, "fc1.1.weight", 2, "always")


def test_shrink_scales_only_the_noise_values() -> None:
    model = mlp()
    before = snapshot(model)
    keep, factor = 4, 0.5
    new, change = shrink(model, "fc1.weight", keep, factor)
    s_before = np.linalg.svd(before["fc1.weight"].double().numpy(), compute_uv=False)
    s_after = np.linalg.svd(new.fc1.weight.detach().double().numpy(), compute_uv=False)
    expected = np.concatenate([s_before[:keep], factor * s_before[keep:]])
    np.testing.assert_allclose(s_after, np.sort(expected)[::-1], rtol=1e-5)
    u0, _, _ = np.linalg.svd(before["fc1.weight"].double().numpy(), full_matrices=False)
    u1, _, _ = np.linalg.svd(new.fc1.weight.detach().double().numpy(), full_matrices=False)
    np.testing.assert_allclose(np.abs(u0[:, :keep]), np.abs(u1[:, :keep]), atol=1e-4)
    assert change.rank_after == 32 and not change.factorized
    assert_untouched(model, before)


def test_shrink_checks_its_arguments() -> None:
    with pytest.raises(SurgeryError, match="shrink factor"):
        shrink(mlp(), "fc1.weight", 2, 1.5)
    with pytest.raises(SurgeryError, match="signal count"):
        shrink(mlp(), "fc1.weight", 40, 0.5)


def test_keep_subset_keeps_the_chosen_triplets() -> None:
    model = mlp()
    weight = model.fc1.weight.detach().double().numpy()
    u, s, vh = np.linalg.svd(weight, full_matrices=False)
    indices = torch.tensor([0, 1, 9, 20])
    new, change = keep_subset(model, "fc1.weight", indices)
    expected = (u[:, indices] * s[indices]) @ vh[indices]
    np.testing.assert_allclose(new.fc1.weight.detach().numpy(), expected, atol=1e-6)
    assert change.rank_after == 4
    with pytest.raises(SurgeryError, match="out of range"):
        keep_subset(model, "fc1.weight", torch.tensor([0, 32]))


def test_bad_rank_and_bad_layer_are_refused() -> None:
    with pytest.raises(SurgeryError, match="rank"):
        truncate(mlp(), "fc1.weight", 33)
    with pytest.raises(SurgeryError, match="no layer named"):
        truncate(mlp(), "fc9.weight", 3)
    with pytest.raises(SurgeryError, match="not a 2-D float weight"):
        truncate(mlp(), "fc1.bias", 3)


def test_conv_kernel_truncated_in_its_reshape(tmp_path: Path) -> None:
    torch.save(SmallCnn().state_dict(), tmp_path / "cnn.pt")
    model = open_checkpoint(tmp_path / "cnn.pt").build_model()
    new, change = truncate(model, "conv.weight", 2)
    assert new.conv.weight.shape == (4, 1, 3, 3)
    assert int(torch.linalg.matrix_rank(get_weight(new, "conv.weight"), rtol=1e-5)) == 2
    assert change.shape_before == (4, 9)


def test_torchscript_surgery_keeps_shape_and_refuses_factorising(tmp_path: Path) -> None:
    net = sequential()
    scripted = open_checkpoint(save_torchscript(net, tmp_path / "net.pt")).build_model()
    before = snapshot(scripted)
    new, change = truncate(scripted, "0.weight", 4)
    assert isinstance(new, torch.jit.ScriptModule)
    weight = new.state_dict()["0.weight"]
    assert weight.shape == (32, 784)
    np.testing.assert_allclose(weight.numpy(), best_rank_k(before["0.weight"], 4), atol=1e-6)
    assert change.rank_after == 4
    assert_untouched(scripted, before)
    x = IMAGES.flatten(1)
    low = torch.from_numpy(best_rank_k(before["0.weight"], 4)).float()
    with torch.no_grad():
        expected = net[2](torch.relu(x @ low.T + net[0].bias))
        torch.testing.assert_close(new(x), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(SurgeryError, match="TorchScript"):
        truncate(scripted, "0.weight", 4, "always")


def test_plan_then_apply_the_paper_rule() -> None:
    model = mlp()
    rule = PruneRule("bema", keep_noise=0.45, min_rank=10, factorize="if_smaller")
    plans = plan(model, ["fc1.weight", "fc2.weight"], rule)
    first = plans[0]
    assert first.rank == keep_rank(first.n_signal, 32, 0.45, 10)
    assert first.factorize == (first.rank * (784 + 32) < 784 * 32)
    new, changes = apply_plan(model, plans, rule)
    assert [c.rank_after for c in changes] == [p.rank for p in plans]
    assert [c.params_after for c in changes] == [p.params_after for p in plans]
    assert parameter_count(new) == sum(p.params_after for p in plans)
