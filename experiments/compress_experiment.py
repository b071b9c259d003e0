"""The paper's question with ``rmt-gui compress``: how accurate at 4, 6, 8, 10 and 15% of the size?

Over several seeds of the paper's trained baseline (784-1000-10, SGD lr 0.08, momentum 0.9,
batch 128, trained with ``rmt-gui train --no-prune``; cached in ``--out``/baselines), every
dense linear layer is compressed to each kept fraction of the parameters by plain and by
activation-whitened SVD (ranks allocated per layer on a validation split of the training set,
:class:`rmt_gui.jobs.compress_job.Compressor`), each also after a recovery fine-tune, and
BEMA's data-free ranks; test accuracy (never used for any choice) is the number reported.
Writes ``runs.csv`` (one row per seed, method and fraction), ``summary.csv``, ``table.md`` and
``compress.png`` in ``--out``.

    nice -n 10 python experiments/compress_experiment.py --data /work/shared/data
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from rmt_gui.cli import main as rmt_gui
from rmt_gui.jobs.compress_job import CompressData, Compressor, Ranks, drain
from rmt_gui.jobs.finetune import finetune
from rmt_gui.jobs.grid_summary import mean_std, write_csv
from rmt_gui.jobs.png_chart import Mark, Series, line_chart
from rmt_gui.model.allocation import tensor_count
from rmt_gui.model.data import MnistSplit, load_mnist
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.pruning import plan
from rmt_gui.model.rule import PruneRule

FRACTIONS = (0.04, 0.06, 0.08, 0.10, 0.15)
SIGNAL_RULE = PruneRule("bema", keep_noise=0.0, factorize="if_smaller")
"""BEMA's n_signal alone (no noise values kept), the issue's "rank 57" point."""
METHODS = ("svd", "whitened")
LABELS = {
    "svd": "plain SVD",
    "svd+finetune": "plain SVD + fine-tune",
    "whitened": "whitened SVD",
    "whitened+finetune": "whitened SVD + fine-tune",
}


def baseline(seed: int, epochs: int, data: str | None, out: Path) -> nn.Module:
    """The trained baseline of ``seed`` from ``out``, trained there first when missing."""
    run = out / "baselines" / f"seed_{seed}"
    final = run / "final.pt"
    if not final.exists():
        argv = ["train", "--no-prune", "--seed", str(seed), "--epochs", str(epochs)]
        argv += ["--out", str(run), "--force", "--threads", "1"]
        argv += ["--data", data] if data else []
        if rmt_gui(argv) != 0:
            raise SystemExit(f"training seed {seed} failed")
    return open_checkpoint(final).build_model()


def _row(seed: int, method: str, fraction: float | str, model: nn.Module, test: MnistSplit,
         params_before: int) -> dict[str, Any]:  # fmt: skip
    """One result row: the test accuracy of ``model`` and its share of the parameters."""
    params = tensor_count(model)
    accuracy = evaluate(model, test).accuracy
    print(f"  seed {seed} {method:<18} {params / params_before:7.2%}  {accuracy:.2%}", flush=True)
    return {
        "seed": seed, "method": method, "fraction": fraction,
        "params": params, "kept": params / params_before, "test_accuracy": accuracy,
    }  # fmt: skip


def compress_seed(
    seed: int, model: nn.Module, train: MnistSplit, test: MnistSplit, steps: int
) -> list[dict[str, Any]]:
    """Every method at every fraction (and BEMA's ranks) for one baseline."""
    compressor = Compressor(model, CompressData.from_training(train), seed=seed)
    before, layers = compressor.params_before, compressor.layers
    rows = [_row(seed, "original", 1.0, model, test, before)]
    bema: Ranks = compressor.bema_ranks()
    rows.append(_row(seed, "bema", "bema", drain(compressor.build("svd", bema)), test, before))
    signal = {p.layer: p.rank if p.factorize else None for p in plan(model, layers, SIGNAL_RULE)}
    built = drain(compressor.build("svd", signal))
    rows.append(_row(seed, "bema-signal", "bema-signal", built, test, before))
    for method in METHODS:
        for fraction in FRACTIONS:
            ranks = drain(compressor.allocation(method, fraction))
            built = drain(compressor.build(method, ranks))
            rows.append(_row(seed, method, fraction, built, test, before))
            tuned = drain(finetune(built, compressor.data.train, steps, seed=seed))
            rows.append(_row(seed, f"{method}+finetune", fraction, tuned, test, before))
    return rows


def summarise(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and sd over seeds of the test accuracy (and share kept) per method and fraction."""
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["fraction"]), []).append(row)
    summary = []
    for (method, fraction), group in groups.items():
        mean, sd = mean_std([100 * r["test_accuracy"] for r in group])
        kept, _ = mean_std([100 * r["kept"] for r in group])
        summary.append({
            "method": method, "fraction": fraction, "seeds": len(group), "kept_percent": kept,
            "accuracy_mean": mean, "accuracy_sd": sd,
        })  # fmt: skip
    return summary


def _cell(summary: Sequence[dict[str, Any]], method: str, fraction: Any) -> dict[str, Any]:
    """The summary row of ``method`` at ``fraction``."""
    return next(s for s in summary if s["method"] == method and s["fraction"] == fraction)


def table(summary: Sequence[dict[str, Any]], steps: int, epochs: int) -> str:
    """``table.md``: test accuracy (mean ± sd over seeds) per fraction and method."""
    original = _cell(summary, "original", 1.0)
    bema = _cell(summary, "bema", "bema")
    signal = _cell(summary, "bema-signal", "bema-signal")
    head = ["parameters kept", *(LABELS[m] for m in LABELS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for fraction in FRACTIONS:
        cells = [_cell(summary, method, fraction) for method in LABELS]
        values = [f"{c['accuracy_mean']:.2f} ± {c['accuracy_sd']:.2f} %" for c in cells]
        lines.append(f"| {100 * fraction:g}% | " + " | ".join(values) + " |")
    return "\n".join([
        *lines, "",
        f"Original: {original['accuracy_mean']:.2f} ± {original['accuracy_sd']:.2f} % "
        f"({original['seeds']} seeds, {epochs} epochs). BEMA's data-free ranks (signal + 45% "
        f"of the noise values, as `prune --bema --factorize`) keep "
        f"{bema['kept_percent']:.1f}% of the parameters: {bema['accuracy_mean']:.2f} ± "
        f"{bema['accuracy_sd']:.2f} %; BEMA's n_signal alone (no noise kept) keeps "
        f"{signal['kept_percent']:.1f}%: {signal['accuracy_mean']:.2f} ± "
        f"{signal['accuracy_sd']:.2f} %. Fine-tune: {steps} SGD steps (batch 128, lr 0.01, "
        "momentum 0.9) on the training split. Test accuracy on the 10,000 MNIST test images.",
        "",
    ])  # fmt: skip


def chart(summary: Sequence[dict[str, Any]], out: Path) -> None:
    """``compress.png``: test accuracy against parameters kept, ± sd bands, BEMA and original."""
    series = []
    for method, label in LABELS.items():
        cells = [_cell(summary, method, fraction) for fraction in FRACTIONS]
        means = [c["accuracy_mean"] for c in cells]
        sds = [c["accuracy_sd"] for c in cells]
        band = ([m - s for m, s in zip(means, sds, strict=True)],
                [m + s for m, s in zip(means, sds, strict=True)])  # fmt: skip
        series.append(Series(label, [100 * f for f in FRACTIONS], means, band=band))
    right = 16.0
    original = _cell(summary, "original", 1.0)["accuracy_mean"]
    points = [_cell(summary, name, name) for name in ("bema", "bema-signal")]
    texts = [
        f"{label}: {p['kept_percent']:.1f}% kept, {p['accuracy_mean']:.2f}%"
        for label, p in zip(("BEMA ranks", "BEMA n_signal"), points, strict=True)
    ]
    marks = [Mark(p["kept_percent"], t) for p, t in zip(points, texts, strict=True)
             if p["kept_percent"] <= right]  # fmt: skip
    off = [t for p, t in zip(points, texts, strict=True) if p["kept_percent"] > right]
    label = "; ".join([f"original ({original:.2f}%)", *off])
    series.append(Series(label, [0, right], [original, original]))
    low = min(s["accuracy_mean"] - s["accuracy_sd"] for s in summary)
    line_chart(
        out / "compress.png",
        series,
        title="Test accuracy of 784-1000-10 compressed to a share of its parameters",
        x_label="parameters kept (%)",
        y_label="test accuracy (%)",
        x_range=(0, right),
        y_range=(float(int(low) // 5 * 5), 100.0),
        marks=marks,
        legend=(0.35, 0.45),
    )


def _fraction(text: str) -> float | str:
    """A ``runs.csv`` fraction: a number, or the name of a BEMA point."""
    return text if text.startswith("bema") else float(text)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``runs.csv`` written before (numbers parsed), to redraw without rerunning."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        row | {
            "fraction": _fraction(row["fraction"]),
            "kept": float(row["kept"]), "test_accuracy": float(row["test_accuracy"]),
        }
        for row in rows
    ]  # fmt: skip


def run_seeds(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train (or reuse) each seed's baseline and compress it; ``runs.csv`` after every seed."""
    train = load_mnist(args.data, train=True)
    test = load_mnist(args.data, train=False)
    rows = []
    for seed in args.seeds:
        model = baseline(seed, args.epochs, args.data, args.out)
        rows += compress_seed(seed, model, train, test, args.finetune_steps)
        write_csv(args.out / "runs.csv", rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Train (or reuse) the baselines, compress each (or reread ``runs.csv``), write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MNIST root (default: rmt-gui's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=10, help="baseline training (10)")
    parser.add_argument("--finetune-steps", type=int, default=500, help="per model (500)")
    parser.add_argument("--out", type=Path, default=Path("experiments/results/compress"))
    parser.add_argument("--redraw", action="store_true", help="only redo the table and chart")
    args = parser.parse_args(argv)
    rows = read_rows(args.out / "runs.csv") if args.redraw else run_seeds(args)
    summary = summarise(rows)
    write_csv(args.out / "summary.csv", summary)
    text = table(summary, args.finetune_steps, args.epochs)
    (args.out / "table.md").write_text(text)
    chart(summary, args.out)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
