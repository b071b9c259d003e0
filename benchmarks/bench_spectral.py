"""Spectral core benchmark: BEMA fit and whole-layer analysis against same-run baselines.

Run: ``python benchmarks/bench_spectral.py [--size N]``. Baselines:
- the notebook's approach, every MP quantile by ``scipy.integrate.quad`` inside ``brentq``;
- ``torch.linalg.svdvals`` (float32, the dtype layers are stored in) for the spectrum;
- the exact float64 numpy route, against the per-layer route of ``rmt_gui.model.analysis``;
  for a small layer (exact route) also the route before the float32 path, numpy plus the
  spectrum cache's BLAKE2 key ("no slower than today"; the key is SHA-256 now).

The whole-process line runs ``rmt-gui analyze --json --device cpu`` on three ``N x N`` layers
(default 4096) written to /tmp, against ``svdvals`` of the same matrices in this process.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time, best_times_alternating, report, report_ratio

from rmt_gui.model.analysis import SpectrumCache, analyze_layer
from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.model.fast_spectrum import FLOAT32_MIN_P
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


def before_route(w: np.ndarray) -> object:
    """The model layer's route before the float32 path: the BLAKE2 content key of the
    spectrum cache, then the exact numpy analysis."""
    hashlib.blake2b(np.ascontiguousarray(w).data.cast("B"), digest_size=16).hexdigest()
    return analyze_matrix("w", w)


def bench_routed_layer(shape: tuple[int, int], repeat: int, target: float) -> None:
    """The model layer's per-layer route (spectrum, fit, exact spike count) against exact numpy
    alone, and against the route as it was before (numpy plus the cache's BLAKE2 key)."""
    w = planted(shape)
    info = LayerInfo(name="w", shape=shape, dtype="float32", params=w.size)
    ours, base = best_times_alternating(
        lambda: analyze_layer(info, w, cache=SpectrumCache()),
        lambda: analyze_matrix("w", w),
        repeat,
    )
    label = f"routed layer analysis {shape[0]}x{shape[1]}"
    if min(shape) >= FLOAT32_MIN_P:
        report_ratio(label, ours, base, "numpy f64", target)
        return
    report(label, ours, base, "numpy f64")
    ours, before = best_times_alternating(
        lambda: analyze_layer(info, w, cache=SpectrumCache()), lambda: before_route(w), repeat
    )
    report_ratio("  against the route before (numpy + BLAKE2)", ours, before, "before", target)


def bench_analyze_process(size: int, layers: int = 3) -> None:
    """Whole-process ``rmt-gui analyze`` on ``layers`` planted layers against svdvals f32."""
    import torch

    matrices = {f"layer{i}": planted((size, size), seed=i) for i in range(layers)}
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        path = Path(folder) / f"bench_{layers}x{size}.npz"
        np.savez(path, **matrices)
        command = [sys.executable, "-m", "rmt_gui", "analyze", str(path), "--json"]
        start = time.perf_counter()
        subprocess.run([*command, "--device", "cpu"], check=True, capture_output=True)
        ours = time.perf_counter() - start
    tensors = [torch.from_numpy(w) for w in matrices.values()]
    base = best_time(lambda: [torch.linalg.svdvals(t) for t in tensors], 1)
    label = f"analyze process {layers}x{size}x{size}"
    report_ratio(label, ours, base, "svdvals f32", 0.8)


def main() -> None:
    """Run every benchmark and print one line per measurement."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="side of the large layers")
    size = parser.parse_args().size
    print(f"torch threads: {torch.get_num_threads()}")
    for p in (1000, size):
        bench_fit(p)
    bench_layer((1000, 784), repeat=7)
    bench_layer((size, size), repeat=1)
    bench_routed_layer((1000, 784), repeat=7, target=1.0)
    bench_routed_layer((size, size), repeat=1, target=0.5)
    bench_analyze_process(size)


if __name__ == "__main__":
    main()
