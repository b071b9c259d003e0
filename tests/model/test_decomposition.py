"""The Gram-route decomposition against numpy's SVD, and its use by surgery."""

import numpy as np
import pytest
import torch

from rmt_gui.model.decomposition import GramSVD
from rmt_gui.model.surgery import get_weight, keep_subset, shrink
from rmt_gui.model.tree import build_mlp


def test_nan_weights_are_refused() -> None:
    weight = torch.ones(5, 12)
    weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        GramSVD.of(weight)


@pytest.mark.parametrize("shape", [(48, 784), (784, 48), (40, 40)])
def test_factors_match_numpy_svd(shape: tuple[int, int]) -> None:
    weight = torch.randn(*shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    dec = GramSVD.of(weight)
    u_ref, s_ref, vh_ref = np.linalg.svd(weight.numpy(), full_matrices=False)
    np.testing.assert_allclose(dec.s.numpy(), s_ref, rtol=1e-10)
    k = 7
    u, s, vh = dec.factors(torch.arange(k))
    np.testing.assert_allclose(
        ((u * s) @ vh).numpy(), (u_ref[:, :k] * s_ref[:k]) @ vh_ref[:k], atol=1e-10
    )
    np.testing.assert_allclose((u.T @ u).numpy(), np.eye(k), atol=1e-10)
    np.testing.assert_allclose((vh @ vh.T).numpy(), np.eye(k), atol=1e-10)


def test_given_decomposition_is_reused() -> None:
    model = build_mlp([784, 48, 10], seed=3)
    dec = GramSVD.of(get_weight(model, "fc1.weight"))
    idx = torch.tensor([0, 1, 2, 5, 9])
    given, change = keep_subset(model, "fc1.weight", idx, "if_smaller", decomposition=dec)
    fresh, fresh_change = keep_subset(model, "fc1.weight", idx, "if_smaller")
    assert change == fresh_change and change.factorized
    x = torch.rand(7, 1, 28, 28)
    torch.testing.assert_close(given(x), fresh(x), atol=0, rtol=0)


def test_rank_deficient_weight_rebuilds_without_nan() -> None:
    model = build_mlp([784, 20, 10], seed=0)
    low, _ = keep_subset(model, "fc1.weight", torch.arange(5))
    dec = GramSVD.of(get_weight(low, "fc1.weight"))
    assert int((dec.s == 0).sum()) > 0
    rebuilt, _ = shrink(low, "fc1.weight", 3, 0.5, decomposition=dec)
    assert bool(torch.isfinite(rebuilt.fc1.weight).all())
