"""Reproduce the paper's experiment over seeds: unpruned baseline vs periodic BEMA pruning.

For every seed both runs use the same initialisation and the same data order (GUIDE §1):
MLP 784-1000-10, SGD lr 0.08 momentum 0.9, batch 128, 10 epochs; the pruned run cuts at the
start of every epoch (alg 0, f = 0.45, factorised when smaller, poorly fitted layers skipped).
Then the rank sweep of the paper's figure: the first layer of each trained baseline truncated to
k = 0, 5, ..., 100 singular values, with BEMA's rank estimate marked.

Writes into ``--out`` (default ``experiments/results``): ``runs.csv``, ``epochs.csv``,
``summary.csv``, ``table.md``, ``rank_sweep.csv``, ``rank_sweep.png`` and
``accuracy_per_epoch.png``. Run folders (checkpoints, logs) go to ``--runs``.

    nice -n 10 python experiments/paper_experiment.py --seeds 0 1 2 3 4 --threads 1
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from chart import Mark, Series, line_chart

from rmt_gui.jobs.config import PruneConfig, TrainConfig
from rmt_gui.jobs.events import EpochEnd, LayerShape, RunEnded
from rmt_gui.jobs.trainer import TrainData, Trainer, load_data
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.surgery import get_weight, truncate
from rmt_gui.spectral import bema_fit, spectrum_of

KINDS = {
    "baseline": None,
    "pruned": PruneConfig(),
    "pruned-end": PruneConfig(first_cut="end"),
    "pruned-end-all": PruneConfig(first_cut="end", skip_poor_fit=False),
}
SWEEP_RANKS = tuple(range(0, 101, 5))
PAPER_SWEEP = {5: 0.55, 20: 0.91, 50: 0.982}


@dataclass
class RunResult:
    """What one training run gave."""

    seed: int
    kind: str
    epochs: list[EpochEnd] = field(default_factory=list)
    ended: RunEnded | None = None
    model: torch.nn.Module | None = None

    @property
    def architecture(self) -> str:
        """``784-1000-10``, with a factorised layer written ``784-352-1000``."""
        widths = [self.ended.layers[0].shape[1]] + [layer.shape[0] for layer in self.ended.layers]
        return "-".join(map(str, widths))

    def row(self) -> dict:
        accuracies = [e.test_accuracy for e in self.epochs]
        return {
            "seed": self.seed,
            "kind": self.kind,
            "final_accuracy": accuracies[-1],
            "best_accuracy": max(accuracies),
            "best_epoch": accuracies.index(max(accuracies)) + 1,
            "params": self.ended.params,
            "architecture": self.architecture,
            "seconds_per_epoch": statistics.fmean(e.seconds for e in self.epochs),
            "eval_seconds_per_epoch": statistics.fmean(e.eval_seconds for e in self.epochs),
        }


def train_one(config: TrainConfig, data: TrainData, run_dir: Path, kind: str) -> RunResult:
    """One run, printing a line per epoch."""
    result = RunResult(config.seed, kind)
    trainer = Trainer(config, run_dir=run_dir, overwrite=True, data=data)
    for event in trainer.run():
        if isinstance(event, EpochEnd):
            result.epochs.append(event)
            accuracy = f"test {100 * event.test_accuracy:.2f}%  {event.seconds:.1f}s"
            print(f"  seed {config.seed} {kind:<8} epoch {event.epoch:>2}: {accuracy}", flush=True)
        elif isinstance(event, RunEnded):
            result.ended = event
    result.model = trainer.copy_model()
    return result


def load_finished(config: TrainConfig, run_dir: Path, kind: str) -> RunResult | None:
    """The result of a finished run with the same settings in ``run_dir``, if there is one."""
    summary_path = run_dir / "run.json"
    if not summary_path.exists():
        return None
    summary = json.loads(summary_path.read_text())
    ended = summary.get("ended") or {}
    if ended.get("status") != "finished" or summary["started"]["config"] != config.to_json():
        return None
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    epochs = [EpochEnd(**{k: v for k, v in r.items() if k != "event"}) for r in records]
    fields = {k: v for k, v in ended.items() if k != "event"}
    fields["layers"] = tuple(LayerShape(d["layer"], tuple(d["shape"])) for d in ended["layers"])
    model = open_checkpoint(ended["model_path"]).build_model()
    return RunResult(config.seed, kind, epochs, RunEnded(**fields), model)


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(
            {k: f"{v:.6g}" if isinstance(v, float) else v for k, v in r.items()} for r in rows
        )


def summarise(results: list[RunResult], kinds: list[str], out: Path) -> list[dict]:
    """Per-kind mean and spread; writes ``summary.csv`` and ``table.md``."""
    summary = []
    for kind in kinds:
        rows = [r.row() for r in results if r.kind == kind]
        final, final_sd = mean_std([r["final_accuracy"] for r in rows])
        best, best_sd = mean_std([r["best_accuracy"] for r in rows])
        summary.append({
            "kind": kind, "runs": len(rows),
            "final_accuracy_mean": final, "final_accuracy_std": final_sd,
            "final_accuracy_min": min(r["final_accuracy"] for r in rows),
            "final_accuracy_max": max(r["final_accuracy"] for r in rows),
            "best_accuracy_mean": best, "best_accuracy_std": best_sd,
            "params": statistics.fmean(r["params"] for r in rows),
            "architectures": " / ".join(sorted({r["architecture"] for r in rows})),
            "seconds_per_epoch": statistics.fmean(r["seconds_per_epoch"] for r in rows),
        })  # fmt: skip
    write_csv(out / "summary.csv", summary)
    lines = [
        "| run | final test accuracy (mean ± std) | min – max | best accuracy (mean ± std) "
        "| parameters | final architecture | s / epoch |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s['kind']} ({s['runs']} seeds) | {100 * s['final_accuracy_mean']:.2f} ± "
            f"{100 * s['final_accuracy_std']:.2f} % | {100 * s['final_accuracy_min']:.2f} – "
            f"{100 * s['final_accuracy_max']:.2f} % | {100 * s['best_accuracy_mean']:.2f} ± "
            f"{100 * s['best_accuracy_std']:.2f} % | {s['params']:,.0f} | {s['architectures']} "
            f"| {s['seconds_per_epoch']:.1f} |"
        )
    (out / "table.md").write_text("\n".join(lines) + "\n")
    return summary


def rank_sweep(results: list[RunResult], data: TrainData, out: Path) -> None:
    """Accuracy of each baseline with ``fc1`` truncated to k values; BEMA estimates marked."""
    baselines = [r for r in results if r.kind == "baseline"]
    table = {k: [] for k in SWEEP_RANKS}
    estimates = {0.2: [], 0.25: []}
    for run in baselines:
        weight = get_weight(run.model, "fc1.weight").numpy()
        spectrum = spectrum_of(weight)
        for alpha, values in estimates.items():
            values.append(bema_fit(spectrum, alpha=alpha).n_signal)
        for k in SWEEP_RANKS:
            truncated, _ = truncate(run.model, "fc1.weight", k)
            table[k].append(evaluate(truncated, data.test).accuracy)
        print(f"  sweep seed {run.seed}: BEMA rank {estimates[0.2][-1]} (alpha 0.2), "
              f"{estimates[0.25][-1]} (alpha 0.25)", flush=True)  # fmt: skip
    rows = []
    for k in SWEEP_RANKS:
        mean, sd = mean_std(table[k])
        row = {"rank": k, "accuracy_mean": mean, "accuracy_std": sd}
        row |= {f"seed_{r.seed}": acc for r, acc in zip(baselines, table[k], strict=True)}
        row["paper_notebook"] = PAPER_SWEEP.get(k, "")
        rows.append(row)
    est = {a: statistics.fmean(v) for a, v in estimates.items()}
    write_csv(out / "rank_sweep.csv", rows)
    write_csv(out / "bema_rank.csv", [
        {"seed": r.seed, "bema_rank_alpha_0.2": a, "bema_rank_alpha_0.25": b}
        for r, a, b in zip(baselines, estimates[0.2], estimates[0.25], strict=True)
    ])  # fmt: skip
    means = [statistics.fmean(table[k]) for k in SWEEP_RANKS]
    line_chart(
        out / "rank_sweep.png",
        [
            Series(
                f"mean of {len(baselines)} baselines (band: min-max)",
                SWEEP_RANKS,
                [100 * m for m in means],
                band=(
                    [100 * min(table[k]) for k in SWEEP_RANKS],
                    [100 * max(table[k]) for k in SWEEP_RANKS],
                ),
            ),
            Series(
                "notebook's reported points",
                list(PAPER_SWEEP),
                [100 * v for v in PAPER_SWEEP.values()],
                joined=False,
            ),
        ],
        title="Test accuracy after truncating fc1 (1000x784) to k singular values",
        x_label="singular values kept in fc1 (k)",
        y_label="test accuracy (%)",
        x_range=(0, 100),
        y_range=(0, 100),
        legend=(0.62, 0.42),
        marks=[
            Mark(est[0.2], f"BEMA rank, alpha 0.2: {est[0.2]:.1f}"),
            Mark(est[0.25], f"BEMA rank, alpha 0.25: {est[0.25]:.1f}"),
        ],
    )


def epoch_chart(results: list[RunResult], kinds: list[str], epochs: int, out: Path) -> None:
    """Mean test accuracy per epoch of each kind of run, with the min-max band."""
    series = []
    for kind in kinds:
        runs = [r for r in results if r.kind == kind]
        per_epoch = [[100 * r.epochs[e].test_accuracy for r in runs] for e in range(epochs)]
        band = ([min(v) for v in per_epoch], [max(v) for v in per_epoch])
        means = [statistics.fmean(v) for v in per_epoch]
        label = f"{kind} (mean of {len(runs)} seeds, band: min-max)"
        series.append(Series(label, range(1, epochs + 1), means, band=band))
    low = min(min(s.band[0]) for s in series)
    line_chart(
        out / "accuracy_per_epoch.png", series, title="Test accuracy per epoch",
        x_label="epoch", y_label="test accuracy (%)", x_range=(1, epochs),
        y_range=(max(0.0, (low // 1) - 1), 100),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--kinds", nargs="+", choices=list(KINDS), default=["baseline", "pruned"],
        help="runs per seed: baseline, pruned (the paper's: cut at each epoch start), "
        "pruned-end (first cut after epoch 1), pruned-end-all (same, poor fits pruned too)",
    )  # fmt: skip
    parser.add_argument("--data", default="/work/shared/data", help="MNIST root")
    parser.add_argument("--limit-train", type=int, help="first N training images (smoke runs)")
    parser.add_argument("--out", type=Path, default=Path("experiments/results"))
    parser.add_argument("--runs", type=Path, default=Path("runs/paper-experiment"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--reuse", action="store_true",
        help="take finished runs with the same settings from --runs instead of training again",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    base = TrainConfig(epochs=args.epochs, seed=0, limit_train=args.limit_train,
                       data_root=args.data, threads=args.threads)  # fmt: skip
    data = load_data(base)
    results = []
    for seed in args.seeds:
        for kind in args.kinds:
            config = dataclasses.replace(base, seed=seed, prune=KINDS[kind])
            run_dir = args.runs / f"seed{seed}-{kind}"
            reused = load_finished(config, run_dir, kind) if args.reuse else None
            if reused is not None:
                print(f"  seed {seed} {kind:<8} reused from {run_dir}", flush=True)
            results.append(reused or train_one(config, data, run_dir, kind))
    write_csv(args.out / "runs.csv", [r.row() for r in results])
    write_csv(args.out / "epochs.csv", [
        {"seed": r.seed, "kind": r.kind, **{k: v for k, v in e.to_json().items() if k != "event"}}
        for r in results for e in r.epochs
    ])  # fmt: skip
    for row in summarise(results, args.kinds, args.out):
        print(row)
    epoch_chart(results, args.kinds, args.epochs, args.out)
    if "baseline" in args.kinds:
        rank_sweep(results, data, args.out)
    print((args.out / "table.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
