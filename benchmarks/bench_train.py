"""Training engine benchmark: ratios measured in one run on full MNIST, 784-1000-10, batch 128.

Run: ``python benchmarks/bench_train.py``. Torch and numpy's BLAS get ``max(1, cpu_count - 1)``
threads, as the app sets them (the spare core runs the UI, or here the snapshot helper thread).
Measured:

1. one epoch of the engine without pruning (events consumed and dropped, test evaluation at
   the end, as every epoch does) against a bare PyTorch loop over the same model, the same
   preloaded tensors, the same batches, with the same evaluation; target <= 1.1x;
2. one pruning cut of 784-1000-10 (dense at initialisation, dense after an epoch of training,
   and the later cut of the factorised network) as a share of that epoch; target < 3%;
   the same cut through the SVD-based ``surgery.truncate`` is shown for reference;
3. the engine with spectrum snapshots every 50 steps (helper thread, and in line) against the
   engine without snapshots, run in pairs (the median of the pairs' ratios, and the best of
   each); target overhead < 2%.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time

from rmt_gui.jobs.config import PruneConfig, SnapshotPolicy, TrainConfig
from rmt_gui.jobs.cutting import linear_weights, prune_network
from rmt_gui.jobs.events import SpectrumSnapshot
from rmt_gui.jobs.trainer import TrainData, Trainer, load_data
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.surgery import get_weight, is_factor_layer, truncate
from rmt_gui.model.threads import set_threads
from rmt_gui.model.tree import build_mlp
from rmt_gui.spectral import keep_rank, spectrum_of

DATA = os.environ.get("RMT_GUI_DATA", str(Path(__file__).resolve().parents[2] / "shared/data"))
CONFIG = TrainConfig(epochs=1, seed=0, prune=None, data_root=DATA)
REPEAT = 7


def bare_epoch(data: TrainData) -> float:
    """The plain loop: same init, order, batches and final evaluation as the engine."""
    start = time.perf_counter()
    model = build_mlp(CONFIG.dims, CONFIG.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=CONFIG.lr, momentum=CONFIG.momentum)
    images, labels = data.train.images, data.train.labels
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(CONFIG.seed))
    for rows in perm.split(CONFIG.batch_size):
        optimizer.zero_grad(set_to_none=True)
        functional.nll_loss(model(images[rows]), labels[rows]).backward()
        optimizer.step()
    evaluate(model, data.test)
    return time.perf_counter() - start


def engine_epoch(data: TrainData, snapshots: SnapshotPolicy) -> tuple[float, int, float]:
    """One epoch through the engine, every event consumed.

    Returns ``(seconds, snapshots seen, seconds spent computing those snapshots)``.
    """
    start = time.perf_counter()
    trainer = Trainer(CONFIG, data=data, snapshots=snapshots)
    snaps = [e for e in trainer.run() if isinstance(e, SpectrumSnapshot)]
    return time.perf_counter() - start, len(snaps), sum(e.seconds for e in snaps)


def svd_cut(model: torch.nn.Module) -> torch.nn.Module:
    """The same keep rule through ``surgery.truncate`` (float64 SVD + separate spectrum)."""
    for layer in linear_weights(model):
        spec = spectrum_of(get_weight(model, layer).numpy())
        fit = PruneConfig().fit(spec)
        rank = keep_rank(fit.n_signal, spec.p, 0.45, min(10, spec.p))
        if fit.good_fit and rank < spec.p:
            mode = "never" if is_factor_layer(model, layer) else "if_smaller"
            model, _ = truncate(model, layer, rank, mode)
    return model


def main() -> None:
    set_threads(max(1, (os.cpu_count() or 2) - 1))
    print(f"torch threads: {torch.get_num_threads()} of {os.cpu_count()} cores")
    data = load_data(CONFIG)
    none = SnapshotPolicy(final=False)
    bare, engine, every50, inline = [], [], [], []
    for _ in range(REPEAT):
        bare.append(bare_epoch(data))
        engine.append(engine_epoch(data, none)[0])
        every50.append(engine_epoch(data, SnapshotPolicy(every_steps=50, final=False)))
    inline.append(engine_epoch(data, SnapshotPolicy(every_steps=50, background=False, final=False)))
    epoch, base = min(engine), min(bare)
    label = "epoch, engine without pruning"
    print(
        f"{label:<52} {epoch:7.2f} s   bare loop {base:7.2f} s   "
        f"ratio {epoch / base:5.3f}x (target <= 1.1)"
    )

    gen = torch.Generator().manual_seed(0)
    fresh = build_mlp(CONFIG.dims, 0)
    trained = Trainer(CONFIG, data=data, snapshots=none)
    for _ in trained.run():
        pass
    factored, _ = prune_network(trained.model, PruneConfig(), 0.45, gen)
    cases = [("cut at initialisation (dense 1000x784)", fresh),
             ("cut after 1 epoch (dense 1000x784)", trained.model),
             ("later cut (factorised 784-352-1000-10)", factored)]  # fmt: skip
    for label, model in cases:
        ours = best_time(lambda m=model: prune_network(m, PruneConfig(), 0.45, gen), 5)
        svd = best_time(lambda m=model: svd_cut(m), 3)
        share = f"{100 * ours / epoch:4.1f}% of an epoch (target < 3%)"
        print(f"{label:<52} {ours * 1e3:7.0f} ms  = {share}   via SVD surgery {svd * 1e3:5.0f} ms")

    with_snaps, seen, spent = min(every50)
    paired = statistics.median(s[0] / e for s, e in zip(every50, engine, strict=True))
    print(f"{'epoch, snapshots every 50 steps (helper thread)':<52} {with_snaps:7.2f} s   "
          f"no snapshots {epoch:7.2f} s   overhead {100 * (paired - 1):+5.1f}% median of "
          f"{REPEAT} pairs, {100 * (with_snaps / epoch - 1):+5.1f}% best of each (target < 2%); "
          f"{seen} snapshots took {spent:.2f} s on the helper thread")  # fmt: skip
    inline_s, inline_n, _ = inline[0]
    print(f"{'epoch, snapshots every 50 steps (in line)':<52} {inline_s:7.2f} s   "
          f"overhead {100 * (inline_s / epoch - 1):+5.1f}%, {inline_n} snapshots")  # fmt: skip


if __name__ == "__main__":
    main()
