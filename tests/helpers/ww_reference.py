"""WeightWatcher 0.7.7's power-law fit written out candidate by candidate, to check the fast one."""

from __future__ import annotations

import numpy as np

THRESH = 1e-5
SMALL_N = 20
MIN_TAIL = 8


def reference_fit(values: np.ndarray) -> tuple[float, float, float]:
    """``(alpha, xmin, D)`` by WeightWatcher's ``WWFit`` loop (standard and small-sample)."""
    data = np.sort(values[values > THRESH])
    size = data.size
    log_data = np.log(data)
    alphas = np.zeros(size - 1)
    distances = np.ones(size - 1)
    for i, xmin in enumerate(data[:-1]):
        n = size - i
        tail_sum = np.sum(log_data[i:]) - n * log_data[i]
        if size < SMALL_N:
            if n < MIN_TAIL or tail_sum <= 1e-12:
                continue
            alphas[i] = 1.0 + (n - 1.0) / tail_sum
        else:
            alphas[i] = 1.0 + n / tail_sum
        model = 1.0 - (data[i:] / xmin) ** (1.0 - alphas[i])
        distances[i] = np.max(np.abs(model - np.arange(n) / n))
    best = int(np.argmin(distances))
    return float(alphas[best]), float(data[best]), float(distances[best])
