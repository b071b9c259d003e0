"""Spectral core benchmark: BEMA fit and whole-layer analysis against same-run baselines.

Run: ``python benchmarks/bench_spectral.py``. Baselines:
- the notebook's approach, every MP quantile by ``scipy.integrate.quad`` inside ``brentq``;
- ``torch.linalg.svdvals`` (float32, the dtype layers are stored in) for the spectrum.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time, report

from rmt_gui.spectral import Spectrum, analyze_matrix, bema_fit, mp_edges


def notebook_sigma2(eigenvalues: np.ndarray, gamma: float, alpha: float = 0.2) -> float:
    """The straightforward BEMA slope: each quantile by quad inside brentq (the baseline)."""
    lam = np.sort(eigenvalues)
    p = lam.size
    a, b = mp_edges(gamma)
    ks = np.arange(int(np.floor(alpha * p)), int(np.floor((1 - alpha) * p)))

    def density(x: float) -> float:
        return math.sqrt(max((b - x) * (x - a), 0.0)) / (2 * math.pi * gamma * x) if x > 0 else 0.0

    def quantile(prob: float) -> float:
        if prob <= 0:
            return a
        return brentq(lambda x: quad(density, a, x)[0] - prob, a, b)

    q = np.array([quantile(k / p) for k in ks])
    return float(q @ lam[ks] / (q @ q))


def planted(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Float32 noise with a few spikes, like a trained layer."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape) / np.sqrt(max(shape))
    w[:5, :5] += 3.0 * np.eye(5)
    return w.astype(np.float32)


def bench_fit(p: int) -> None:
    """BEMA from given eigenvalues against the quad/brentq baseline."""
    shape = (p, int(p / 0.784))
    spec = Spectrum.from_singular_values(
        np.linalg.svd(planted(shape).astype(np.float64), compute_uv=False), shape
    )
    fit = bema_fit(spec)
    baseline_sigma2 = notebook_sigma2(spec.eigenvalues, spec.gamma)
    ours = best_time(lambda: bema_fit(Spectrum.from_eigenvalues(spec.eigenvalues, shape)), 20)
    base = best_time(lambda: notebook_sigma2(spec.eigenvalues, spec.gamma), 1)
    report(f"BEMA fit from eigenvalues, p = {p}", ours, base, "quad+brentq")
    print(f"{'':<44} sigma2 agreement: relative difference {fit.sigma2 / baseline_sigma2 - 1:.1e}")


def bench_layer(shape: tuple[int, int], repeat: int) -> None:
    """Spectrum + fit of a whole layer against torch.linalg.svdvals alone."""
    import torch

    w = planted(shape)
    tensor = torch.from_numpy(w)
    ours = best_time(lambda: analyze_matrix("w", w), repeat)
    base = best_time(lambda: torch.linalg.svdvals(tensor), repeat)
    report(f"layer analysis {shape[0]}x{shape[1]} (Gram + BEMA)", ours, base, "svdvals")
    exact = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    gram = analyze_matrix("w", w).spectrum.singular_values
    svdvals = torch.linalg.svdvals(tensor).double().numpy()
    err_gram = np.max(np.abs(gram - exact)) / exact[0]
    err_torch = np.max(np.abs(svdvals - exact)) / exact[0]
    print(
        f"{'':<44} max |s - s_exact| / s_max: Gram route {err_gram:.1e}, "
        f"float32 svdvals {err_torch:.1e}"
    )


def main() -> None:
    """Run every benchmark and print one line per measurement."""
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    for p in (1000, 4096):
        bench_fit(p)
    bench_layer((1000, 784), repeat=7)
    bench_layer((4096, 4096), repeat=1)


if __name__ == "__main__":
    main()
