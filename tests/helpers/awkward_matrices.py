"""Valid-but-awkward and numerically hostile weight matrices, small and deterministic.

``ANALYSABLE`` must analyse to finite numbers; ``REFUSED`` must be refused with a one-line
``ValueError`` whose text contains the given phrase.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def noise(shape: tuple[int, int] = (40, 60), seed: int = 0) -> np.ndarray:
    """Standard Gaussian entries."""
    return np.random.default_rng(seed).standard_normal(shape)


def with_entry(matrix: np.ndarray, value: float) -> np.ndarray:
    """``matrix`` (as float64) with its first entry replaced by ``value``."""
    out = np.array(matrix, dtype=np.float64)
    out[0, 0] = value
    return out


ANALYSABLE: dict[str, Callable[[], np.ndarray]] = {
    "zeros": lambda: np.zeros((30, 40)),
    "negative_zeros": lambda: np.full((10, 12), -0.0),
    "zero_1x1": lambda: np.zeros((1, 1)),
    "constant": lambda: np.full((30, 40), 3.0),
    "rank_one": lambda: np.outer(noise((30, 1))[:, 0], noise((1, 40), 1)[0]),
    "checkerboard": lambda: np.where(np.indices((40, 60)).sum(0) % 2, 1.0, -1.0),
    "row_1xn": lambda: noise((1, 50)),
    "column_nx1": lambda: noise((50, 1)),
    "square_2x2": lambda: noise((2, 2)),
    "one_by_one": lambda: np.array([[5.0]]),
    "spike_only": lambda: np.diag(np.r_[1e10, np.zeros(19)]),
    "near_overflow": lambda: noise() * 1e153,
    "near_underflow": lambda: noise() * 1e-153,
    "float32_subnormal": lambda: (noise() * 1e-44).astype(np.float32),
    "float32_max": lambda: np.full((5, 7), np.finfo(np.float32).max, dtype=np.float32),
    "float16": lambda: noise().astype(np.float16),
    "int8_min": lambda: np.full((20, 30), -128, dtype=np.int8),
    "int8": lambda: (noise() * 30).astype(np.int8),
    "uint64_max": lambda: np.full((5, 7), np.iinfo(np.uint64).max, dtype=np.uint64),
    "int64_min": lambda: np.full((4, 4), np.iinfo(np.int64).min, dtype=np.int64),
    "big_endian": lambda: noise().astype(">f8"),
    "mixed_magnitudes": lambda: np.where(noise() > 1.5, 1e150, noise() * 1e-150),
}

REFUSED: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "huge_1e155": (lambda: noise() * 1e155, "too large for float64"),
    "float64_max": (lambda: np.full((3, 4), np.finfo(np.float64).max), "too large for float64"),
    "negative_max": (lambda: np.full((3, 3), -np.finfo(np.float64).max), "too large"),
    "tiny_1e-170": (lambda: noise() * 1e-170, "too small for float64"),
    "subnormal": (lambda: noise() * 1e-320, "too small for float64"),
    "nan": (lambda: with_entry(noise(), np.nan), "NaN or infinite weights (1 NaN of 2400"),
    "inf": (lambda: with_entry(noise(), np.inf), "NaN or infinite weights (1 inf of 2400"),
    "minus_inf": (lambda: with_entry(noise(), -np.inf), "NaN or infinite weights"),
    "float16_nan": (
        lambda: with_entry(noise(), np.nan).astype(np.float16),
        "NaN or infinite weights",
    ),
}
