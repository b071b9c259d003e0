"""Checkpoint benchmark: evaluation, a 1 GB safetensors file, the spectrum cache, whole-model
analysis, each as a ratio against a baseline timed in the same run.

Run: ``nice -n 10 python benchmarks/bench_model.py``. BLAS and torch get the same number of
threads (``BENCH_THREADS``, default 1: on a shared 2-core machine more threads only contend).

1. ``evaluate()`` on the 10,000 MNIST test images with a 784-1000-10 MLP against a bare
   ``model(x)`` over one preloaded tensor; target <= 1.2x.
2. A ~1 GB safetensors file (eight float32 layers of 128 MiB): listing its layers in a fresh
   process (target < 1 s, imports reported apart), and analysing every layer in a fresh process
   with its peak RSS against the file size plus the largest layer's working set.
3. Analysing all layers twice: each layer is decomposed once (cache hits and misses).
4. Whole-model analysis (read, hash, Gram spectrum, BEMA, Gavish–Donoho; cold cache) against
   ``torch.linalg.svdvals`` over the same float32 layers; target <= 0.5x.
5. With WeightWatcher installed (the ``bench`` extra), its ``analyze(mp_fit=True)`` on the same
   model; target: ours at least 3x faster.
"""

from __future__ import annotations

import os

THREADS = os.environ.get("BENCH_THREADS", "1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = THREADS

import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time, report, report_ratio  # noqa: E402

from rmt_gui.model.analysis import SpectrumCache, analyze_layers  # noqa: E402
from rmt_gui.model.data import load_mnist  # noqa: E402
from rmt_gui.model.evaluate import evaluate  # noqa: E402
from rmt_gui.model.export import export_model  # noqa: E402
from rmt_gui.model.opener import open_checkpoint  # noqa: E402
from rmt_gui.model.tree import build_mlp  # noqa: E402

DATA = os.environ.get("RMT_GUI_DATA", str(Path(__file__).resolve().parents[2] / "shared/data"))
BIG_LAYERS = [(32768, 1024)] * 4 + [(1024, 32768)] * 4  # 8 x 128 MiB of float32, both orientations
CHILD_LIST = """
import json, sys, time
t0 = time.perf_counter()
from rmt_gui.model.opener import open_checkpoint
t1 = time.perf_counter()
layers = open_checkpoint(sys.argv[1]).layers()
t2 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "listing": t2 - t1, "layers": len(layers)}))
"""
CHILD_ANALYSE = """
import json, sys, time
from pathlib import Path
from rmt_gui.model.analysis import SpectrumCache, analyze_layers
from rmt_gui.model.opener import open_checkpoint

def peak_rss():
    # VmHWM: this process's own high-water mark (ru_maxrss would include the parent's at fork)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

base = peak_rss()
t0 = time.perf_counter()
results = list(analyze_layers(open_checkpoint(sys.argv[1]), cache=SpectrumCache()))
seconds = time.perf_counter() - t0
signal = [getattr(r, "fit", None) and r.fit.n_signal for r in results]
print(json.dumps({"seconds": seconds, "base": base, "peak": peak_rss(), "signal": signal}))
"""


def spiked_mlp(dims: list[int], spikes: int = 5) -> torch.nn.Module:
    """An MLP whose layers are PyTorch-initialised noise plus ``spikes`` strong directions."""
    model = build_mlp(dims, seed=0)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in (model.get_submodule(name) for name in model.chain):
            out_dim, in_dim = layer.weight.shape
            k = min(spikes, out_dim, in_dim)
            u, _ = torch.linalg.qr(torch.randn(out_dim, k, generator=generator))
            v, _ = torch.linalg.qr(torch.randn(in_dim, k, generator=generator))
            edge = float(layer.weight.std()) * (out_dim**0.5 + in_dim**0.5)
            strength = edge * torch.arange(3, 3 + k, dtype=torch.float32)
            layer.weight += (u * strength) @ v.T
    return model


def bench_evaluate() -> None:
    """``evaluate`` against one bare forward pass over the preloaded test tensor."""
    data = load_mnist(DATA)
    model = build_mlp([784, 1000, 10], seed=0).eval()
    images = data.images

    def bare() -> None:
        with torch.inference_mode():
            model(images)

    evaluate(model, data)
    ours = best_time(lambda: evaluate(model, data), repeat=15)
    base = best_time(bare, repeat=15)
    report_ratio("evaluate 10k MNIST, 784-1000-10", ours, base, "bare model(x)", target=1.2)


def write_big_safetensors(path: Path) -> int:
    """Stream a safetensors file of ``BIG_LAYERS`` (noise plus a few spikes); return its size."""
    rng = np.random.default_rng(0)
    header, offset = {}, 0
    for i, shape in enumerate(BIG_LAYERS):
        size = shape[0] * shape[1] * 4
        entry = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        header[f"layer{i}.weight"] = entry
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(text)) + text)
        for shape in BIG_LAYERS:
            w = rng.standard_normal(shape, dtype=np.float32) / np.float32(np.sqrt(max(shape)))
            w[:8, :8] += 4.0 * np.eye(8, dtype=np.float32)
            handle.write(w.tobytes())
    return path.stat().st_size


def run_child(code: str, path: Path) -> dict:
    """Run ``code`` in a fresh interpreter and parse the JSON it prints."""
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def bench_big_file(folder: Path) -> None:
    """List and analyse a ~1 GB safetensors file, each in a fresh process."""
    path = folder / "big.safetensors"
    size = write_big_safetensors(path)
    listed = run_child(CHILD_LIST, path)
    print(
        f"{'list 1 GB safetensors (fresh process)':<44} listing {listed['listing'] * 1e3:8.1f} ms"
        f"   imports {listed['imports'] * 1e3:8.1f} ms   {listed['layers']} layers"
        f"   target < 1000 ms: {'met' if listed['listing'] < 1 else 'MISSED'}"
    )
    analysed = run_child(CHILD_ANALYSE, path)
    out_dim, in_dim = max(BIG_LAYERS, key=lambda s: s[0] * s[1])
    working = 8 * out_dim * in_dim + 8 * min(out_dim, in_dim) ** 2
    budget = size + working
    mib = 1024**2
    print(
        f"{'analyse 1 GB safetensors (fresh process)':<44} {analysed['seconds']:8.1f} s"
        f"   peak RSS {analysed['peak'] / mib:5.0f} MiB (imports {analysed['base'] / mib:.0f})"
        f"   file {size / mib:.0f} MiB + largest layer working set {working / mib:.0f} MiB"
        f" = {budget / mib:.0f} MiB: {'met' if analysed['peak'] < budget else 'MISSED'}"
    )
    print(f"{'':<44} spikes found per layer: {analysed['signal']} (8 planted)")


def bench_cache(path: Path) -> None:
    """Two passes over every layer: the second decomposes nothing."""
    cache = SpectrumCache()
    checkpoint = open_checkpoint(path)
    first = best_time(lambda: list(analyze_layers(checkpoint, cache=cache)), repeat=1)
    after_first = (cache.misses, cache.hits)
    second = best_time(lambda: list(analyze_layers(checkpoint, cache=cache)), repeat=1)
    layers = len(checkpoint.layers())
    print(
        f"{'analyse all layers twice (' + str(layers) + ' layers)':<44} first pass misses/hits "
        f"{after_first[0]}/{after_first[1]}, second pass misses/hits "
        f"{cache.misses - after_first[0]}/{cache.hits - after_first[1]}"
        f"   {first * 1e3:.1f} ms then {second * 1e3:.1f} ms"
    )


def bench_whole_model(dims: list[int], folder: Path, repeat: int) -> Path:
    """Cold-cache analysis of every layer of a saved MLP against ``svdvals`` on its weights."""
    model = spiked_mlp(dims)
    path = export_model(model, folder / f"mlp{'-'.join(map(str, dims))}.pt", "state-dict")
    checkpoint = open_checkpoint(path)
    weights = [torch.from_numpy(np.array(checkpoint.read(i.name))) for i in checkpoint.layers()]

    def ours() -> None:
        list(analyze_layers(checkpoint, cache=SpectrumCache()))

    def baseline() -> None:
        for weight in weights:
            torch.linalg.svdvals(weight)

    label = f"whole-model analysis {'-'.join(map(str, dims))}"
    report_ratio(label, best_time(ours, repeat), best_time(baseline, repeat), "svdvals", target=0.5)
    return path


def bench_weightwatcher(dims: list[int], folder: Path, repeat: int) -> None:
    """WeightWatcher's MP fit on the same model, when the ``bench`` extra is installed."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            import weightwatcher as ww
    except ImportError:
        print("weightwatcher not installed (pip install '.[bench]'): comparison skipped")
        return
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    model = spiked_mlp(dims)
    path = export_model(model, folder / f"ww{'-'.join(map(str, dims))}.pt", "state-dict")
    checkpoint = open_checkpoint(path)

    def ours() -> None:
        list(analyze_layers(checkpoint, cache=SpectrumCache()))

    def theirs() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            ww.WeightWatcher(model=model).analyze(mp_fit=True)

    label = f"WeightWatcher mp_fit {'-'.join(map(str, dims))}"
    report(label, best_time(ours, repeat), best_time(theirs, repeat), "weightwatcher")
    with contextlib.redirect_stdout(io.StringIO()):
        frame = ww.WeightWatcher(model=model).analyze(mp_fit=True)
    ours_signal = [r.fit.n_signal for r in analyze_layers(checkpoint, cache=SpectrumCache())]
    print(
        f"{'':<44} spikes (5 planted per layer): BEMA {ours_signal}, "
        f"WeightWatcher num_spikes {frame['num_spikes'].astype(int).tolist()}"
    )


def main() -> None:
    """Run every benchmark and print one line per measurement."""
    torch.set_num_threads(int(THREADS))
    print(f"threads: torch {torch.get_num_threads()}, BLAS {THREADS}")
    bench_evaluate()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small = bench_whole_model([784, 1000, 10], folder, repeat=5)
        bench_whole_model([784, 2048, 2048, 10], folder, repeat=2)
        bench_cache(small)
        bench_weightwatcher([784, 1000, 10], folder, repeat=3)
        bench_weightwatcher([784, 2048, 2048, 10], folder, repeat=1)
        bench_big_file(folder)


if __name__ == "__main__":
    main()
