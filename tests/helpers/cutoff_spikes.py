"""Float32 layer weights with one spike planted a hair's breadth from the BEMA cutoff."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.spectrum import Spectrum


def spike_at_cutoff(
    shape: tuple[int, int], fit: Callable[[Spectrum], BemaResult], offset: float, seed: int = 0
) -> np.ndarray:
    """Gaussian noise of ``shape`` with a big spike and one eigenvalue at ``(1 + offset)`` times
    the cutoff ``fit`` finds for the noise, as float32 (what a layer stores)."""
    rng = np.random.default_rng(seed)
    n = max(shape)
    u, s, vt = np.linalg.svd(rng.standard_normal(shape) / np.sqrt(n), full_matrices=False)
    cutoff = fit(Spectrum.from_singular_values(s, shape)).lambda_plus
    s[0] *= 6.0
    s[1] = np.sqrt(n * cutoff * (1.0 + offset))
    return ((u * s) @ vt).astype(np.float32)
