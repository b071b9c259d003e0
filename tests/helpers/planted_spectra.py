"""Matrices with planted singular values: MP noise, and noise whose top follows a power law."""

from __future__ import annotations

import numpy as np


def planted(singular_values: np.ndarray, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A ``shape`` matrix with exactly these singular values (random orthonormal frames)."""
    rng = np.random.default_rng(seed)
    p = min(shape)
    left = np.linalg.qr(rng.standard_normal((shape[0], p)))[0]
    right = np.linalg.qr(rng.standard_normal((shape[1], p)))[0]
    return (left * singular_values) @ right.T


def heavy_tailed(shape: tuple[int, int], seed: int = 3, tail: int = 30) -> np.ndarray:
    """Gaussian noise whose top ``tail`` singular values are replaced by a power law.

    The eigenvalues ``s**2`` of the top follow ranks ``k**(-2/3)``: a tail of exponent about
    2.5, far above the MP edge, while the bulk (and so BEMA's window) is untouched.
    """
    s = np.linalg.svd(np.random.default_rng(seed).standard_normal(shape), compute_uv=False)
    s[:tail] = s[tail] * (np.arange(1, tail + 1) / (tail + 1)) ** (-1.0 / 3.0)
    return planted(s, shape, seed)
