"""GPU against CPU: the analysis of a 7B-class model's projections, and a training epoch.

Run: ``python benchmarks/bench_gpu.py [--blocks 32] [--scale 1] [--cpu-blocks 1] [--cpu-only]``.
On a machine without CUDA it prints one line saying so and exits 0 (``--cpu-only`` still runs the
CPU side, e.g. to check the script on a tiny shape: ``--blocks 1 --scale 0.05 --cpu-only``).

Measured, each against the CPU in the same run:

1. ``rmt_gui.model.analysis.analyze_layer`` (the routed spectrum, BEMA fit, exact spike count) on
   the projections of ``--blocks`` transformer blocks, each ``4096x4096`` x4 (q, k, v, o) and
   ``11008x4096`` x3 (gate, up, down), sides times ``--scale``: 224 matrices at the defaults.
   The matrices are generated (seeded noise with a few spikes), one at a time, outside the
   timing. The CPU times the first ``--cpu-blocks`` blocks; its line gives that time per block;
2. one epoch of a bare PyTorch loop (784-1000-10, batch 128, SGD) over ``--images`` (60,000)
   generated MNIST-shaped images, the model and the data on the device (the training engine
   itself has no ``--device`` yet).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import report

from rmt_gui.model.analysis import SpectrumCache, analyze_layer
from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.model.tree import build_mlp
from rmt_gui.spectral import LayerAnalysis

HIDDEN, FFN = 4096, 11008
BATCH = 128


def block_shapes(scale: float) -> list[tuple[int, int]]:
    """The seven projection shapes of one block, sides times ``scale`` (at least 2)."""
    d, f = max(2, round(HIDDEN * scale)), max(2, round(FFN * scale))
    return [(d, d)] * 4 + [(f, d), (f, d), (d, f)]


def matrices(blocks: int, scale: float) -> Iterator[tuple[LayerInfo, np.ndarray]]:
    """Every projection of ``blocks`` blocks, generated one at a time (float32, seeded)."""
    rng = np.random.default_rng(0)
    for block in range(blocks):
        for index, shape in enumerate(block_shapes(scale)):
            w = rng.standard_normal(shape, dtype=np.float32) / np.float32(np.sqrt(max(shape)))
            w[:4, :4] += 3.0 * np.eye(4, dtype=np.float32)
            name = f"blocks.{block}.proj{index}.weight"
            yield LayerInfo(name=name, shape=shape, params=w.size, dtype="float32"), w


def analysis_seconds(blocks: int, scale: float, device: torch.device) -> tuple[float, int]:
    """Seconds spent in ``analyze_layer`` over the blocks' matrices, and signal values found."""
    spent, found = 0.0, 0
    for info, w in matrices(blocks, scale):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = analyze_layer(info, w, cache=SpectrumCache(), device=device)
        spent += time.perf_counter() - start
        if not isinstance(result, LayerAnalysis):
            raise SystemExit(f"bench_gpu: {info.name}: not analysed ({result})")
        found += result.fit.n_signal
    return spent, found


def epoch_seconds(device: torch.device, count: int) -> float:
    """One bare training epoch on ``device`` over ``count`` generated MNIST-shaped images."""
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(count, 784, generator=gen).to(device)
    labels = torch.randint(0, 10, (count,), generator=gen).to(device)
    model = build_mlp([784, 1000, 10], 0).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for rows in torch.randperm(count, generator=gen).to(device).split(BATCH):
        optimizer.zero_grad(set_to_none=True)
        functional.nll_loss(model(images[rows]), labels[rows]).backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> int:
    """Parse options, then print one line per measurement (or the no-CUDA line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=32, help="transformer blocks (32)")
    parser.add_argument("--scale", type=float, default=1.0, help="side scale of every shape (1)")
    parser.add_argument("--cpu-blocks", type=int, default=1, help="blocks the CPU times (1)")
    parser.add_argument("--images", type=int, default=60_000, help="images in the epoch (60000)")
    parser.add_argument("--cpu-only", action="store_true", help="run the CPU side without CUDA")
    args = parser.parse_args()
    has_cuda = torch.cuda.is_available()
    if not has_cuda and not args.cpu_only:
        print("bench_gpu: no CUDA device on this machine (torch.cuda.is_available() is False)")
        return 0
    cpu = torch.device("cpu")
    count = 7 * args.blocks
    cpu_blocks = min(args.cpu_blocks, args.blocks)
    cpu_s, _ = analysis_seconds(cpu_blocks, args.scale, cpu)
    cpu_epoch = epoch_seconds(cpu, args.images)
    print(f"torch threads: {torch.get_num_threads()}; shapes per block {block_shapes(args.scale)}")
    if not has_cuda:
        print(f"{'analysis per block, cpu':<44} {1e3 * cpu_s / cpu_blocks:10.3f} ms")
        print(f"{'training epoch, cpu':<44} {1e3 * cpu_epoch:10.3f} ms")
        return 0
    cuda = torch.device("cuda")
    analysis_seconds(1, min(args.scale, 0.05), cuda)  # warm-up: CUDA context and kernels
    gpu_s, found = analysis_seconds(args.blocks, args.scale, cuda)
    report(f"analysis of {count} projections, cuda", gpu_s, cpu_s * args.blocks / cpu_blocks,
           f"cpu ({cpu_blocks} of {args.blocks} blocks, scaled)")  # fmt: skip
    print(f"{'':<44} {found} signal values in all; per block cuda "
          f"{1e3 * gpu_s / args.blocks:.1f} ms, cpu {1e3 * cpu_s / cpu_blocks:.1f} ms")  # fmt: skip
    report("training epoch 784-1000-10, cuda", epoch_seconds(cuda, args.images), cpu_epoch, "cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
