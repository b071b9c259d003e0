"""Compression benchmark: the accuracy–size curve and calibration+whitening against one epoch.

Run: ``python benchmarks/bench_compress.py``. Torch gets ``max(1, cpu_count - 1)`` threads, as
the app sets it. The baseline is one training epoch of 784-1000-10 on full MNIST (the paper's
SGD, batch 128, a bare PyTorch loop over preloaded tensors), measured in the same run. Measured
on ``resources/default_model.pt``:

1. the whole curve, 3 methods (plain SVD, whitened, whitened + fine-tune) x 10 budgets, from a
   fresh :class:`Compressor` (calibration, decompositions, sensitivity sweeps, fine-tunes and
   every validation included); target < 2x the epoch;
2. calibration (input Grams over 2,048 images) plus whitening (Cholesky and the whitened SVD of
   every layer); target < 10% of the epoch (0.1x).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import report_ratio

from rmt_gui.jobs.compress_job import CompressData, Compressor, CurvePoint
from rmt_gui.model.calibration import input_grams
from rmt_gui.model.data import MnistSplit, load_mnist
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.tree import build_mlp
from rmt_gui.model.whitening import whitened_decomposition

ROOT = Path(__file__).resolve().parents[1]
DATA = os.environ.get("RMT_GUI_DATA", str(ROOT.parent / "shared" / "data"))
MODEL = ROOT / "resources" / "default_model.pt"


def epoch_seconds(train: MnistSplit) -> float:
    """Wall time of one epoch of 784-1000-10 with the paper's SGD (lr 0.08, momentum 0.9)."""
    model = build_mlp((784, 1000, 10), seed=0)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.08, momentum=0.9)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    for batch in order.split(128):
        optimiser.zero_grad(set_to_none=True)
        functional.nll_loss(model(train.images[batch]), train.labels[batch]).backward()
        optimiser.step()
    return time.perf_counter() - start


def curve_seconds(model: torch.nn.Module, data: CompressData) -> tuple[float, int]:
    """Wall time of the whole curve from a fresh compressor, and its number of points."""
    start = time.perf_counter()
    points = sum(isinstance(e, CurvePoint) for e in Compressor(model, data).curve())
    return time.perf_counter() - start, points


def whitening_seconds(model: torch.nn.Module, data: CompressData) -> float:
    """Wall time of the Grams over the calibration images plus every layer's whitened SVD."""
    layers = ["fc1.weight", "fc2.weight"]
    start = time.perf_counter()
    grams = input_grams(model, data.calibration, layers)
    for layer in layers:
        whitened_decomposition(model, layer, grams[layer])
    return time.perf_counter() - start


def main() -> None:
    """Measure the epoch, the curve and calibration+whitening, and print the ratios."""
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    train = load_mnist(DATA, train=True)
    model = open_checkpoint(MODEL).build_model()
    data = CompressData.from_training(train)
    epoch = epoch_seconds(train)
    curve, points = curve_seconds(model, data)
    whitening = whitening_seconds(model, data)
    print(f"threads {torch.get_num_threads()}, one epoch {epoch:.2f} s, curve points {points}")
    report_ratio("curve (3 methods x 10 budgets) / epoch", curve, epoch, "epoch", 2.0)
    report_ratio("calibration + whitening / epoch", whitening, epoch, "epoch", 0.1)


if __name__ == "__main__":
    main()
