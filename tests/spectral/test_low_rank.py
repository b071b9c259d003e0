"""Singular values of ``scale · B · A`` from the factors' QR, against the dense product."""

from __future__ import annotations

import numpy as np
import pytest

from rmt_gui.spectral.low_rank import (
    low_rank_singular_values,
    low_rank_spectrum,
    numerical_rank,
)


@pytest.mark.parametrize(("m", "n", "r"), [(40, 30, 4), (30, 70, 8), (5, 60, 9), (50, 3, 6)])
def test_values_match_the_dense_svd(m: int, n: int, r: int) -> None:
    rng = np.random.default_rng(m * n + r)
    b, a = rng.standard_normal((m, r)), rng.standard_normal((r, n))
    expected = np.linalg.svd(-2.5 * b @ a, compute_uv=False)
    spectrum = low_rank_spectrum(b, a, -2.5)
    assert spectrum.shape == (m, n)
    np.testing.assert_allclose(spectrum.singular_values, expected, rtol=1e-10, atol=1e-10)
    assert numerical_rank(spectrum.singular_values) == min(m, n, r)


def test_a_rank_deficient_product_shows_its_rank() -> None:
    rng = np.random.default_rng(0)
    b = rng.standard_normal((20, 4))
    b[:, 3] = b[:, 0]  # B has rank 3
    values = low_rank_singular_values(b, rng.standard_normal((4, 25)))
    assert values.size == 4
    assert numerical_rank(values) == 3


def test_factors_that_do_not_chain_are_refused() -> None:
    with pytest.raises(ValueError, match="do not chain"):
        low_rank_singular_values(np.ones((4, 2)), np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"NaN|finite"):
        low_rank_singular_values(np.full((4, 2), np.nan), np.ones((2, 5)))
