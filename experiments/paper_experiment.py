"""Reproduce the paper's experiment: the sweep ``paper_sweep.toml``, then the rank-sweep figure.

The training runs (baseline and pruned, per seed) and their summary are a sweep
(``rmt-gui sweep experiments/paper_sweep.toml``: ``table.md``, ``summary.csv``, ``runs.csv``,
``epochs.csv``, ``accuracy_per_epoch.png`` and the run folders in ``--out``); finished trials
are skipped, so running this again only redraws. What a sweep cannot do stays here: the first
layer of each trained baseline truncated to k = 0, 5, ..., 100 singular values, with BEMA's rank
estimate marked (``rank_sweep.csv``, ``bema_rank.csv``, ``rank_sweep.png`` in ``--out``).

    nice -n 10 python experiments/paper_experiment.py --data /work/shared/data
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from torch import nn

from rmt_gui.cli import main as rmt_gui
from rmt_gui.cli.sweep import TrainOptions
from rmt_gui.jobs.grid_spec import load_spec
from rmt_gui.jobs.grid_summary import mean_std, write_csv
from rmt_gui.jobs.png_chart import Mark, Series, line_chart
from rmt_gui.jobs.trainer import TrainData, load_data
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.surgery import get_weight, truncate
from rmt_gui.spectral import bema_fit, spectrum_of

SPEC = Path(__file__).with_name("paper_sweep.toml")
SWEEP_RANKS = tuple(range(0, 101, 5))
PAPER_SWEEP = {5: 0.55, 20: 0.91, 50: 0.982}
ALPHAS = (0.2, 0.25)


def baselines(
    spec_path: Path, out: Path, data: str | None
) -> tuple[list[tuple[int, nn.Module]], TrainData]:
    """The sweep's trained baselines (seed and final model) and the data they were tested on."""
    overrides = {"data": data} if data else {}
    spec = load_spec(spec_path, TrainOptions().to_config, overrides=overrides)
    trials = [trial for trial in spec.trials if trial.config.prune is None]
    models = [
        (t.seed, open_checkpoint(out / "trials" / t.id / "final.pt").build_model()) for t in trials
    ]
    return models, load_data(trials[0].config)


def rank_sweep(runs: list[tuple[int, nn.Module]], data: TrainData, out: Path) -> None:
    """Accuracy of each baseline with ``fc1`` truncated to k values; BEMA estimates marked."""
    table: dict[int, list[float]] = {k: [] for k in SWEEP_RANKS}
    estimates: dict[float, list[int]] = {alpha: [] for alpha in ALPHAS}
    for seed, model in runs:
        spectrum = spectrum_of(get_weight(model, "fc1.weight").numpy())
        for alpha, values in estimates.items():
            values.append(bema_fit(spectrum, alpha=alpha).n_signal)
        for k in SWEEP_RANKS:
            truncated, _ = truncate(model, "fc1.weight", k)
            table[k].append(evaluate(truncated, data.test).accuracy)
        ranks = ", ".join(f"{values[-1]} (alpha {a})" for a, values in estimates.items())
        print(f"  sweep seed {seed}: BEMA rank {ranks}", flush=True)
    rows = []
    for k in SWEEP_RANKS:
        mean, sd = mean_std(table[k])
        row = {"rank": k, "accuracy_mean": mean, "accuracy_std": sd}
        row |= {f"seed_{seed}": acc for (seed, _), acc in zip(runs, table[k], strict=True)}
        rows.append(row | {"paper_notebook": PAPER_SWEEP.get(k, "")})
    write_csv(out / "rank_sweep.csv", rows)
    write_csv(out / "bema_rank.csv", [
        {"seed": seed, **{f"bema_rank_alpha_{a}": estimates[a][i] for a in ALPHAS}}
        for i, (seed, _) in enumerate(runs)
    ])  # fmt: skip
    rank_chart(table, {a: statistics.fmean(v) for a, v in estimates.items()}, out)


def rank_chart(table: dict[int, list[float]], estimates: dict[float, float], out: Path) -> None:
    """``rank_sweep.png``: mean accuracy per k with its min-max band, the notebook's points."""
    runs = len(table[SWEEP_RANKS[0]])
    line_chart(
        out / "rank_sweep.png",
        [
            Series(
                f"mean of {runs} baselines (band: min-max)",
                SWEEP_RANKS,
                [100 * statistics.fmean(table[k]) for k in SWEEP_RANKS],
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
        marks=[Mark(rank, f"BEMA rank, alpha {a}: {rank:.1f}") for a, rank in estimates.items()],
    )


def main(argv: list[str] | None = None) -> int:
    """Run (or finish) the sweep, then the rank sweep of its baselines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=SPEC, help="a smaller spec for a smoke run")
    parser.add_argument("--data", help="MNIST root (default: rmt-gui's)")
    parser.add_argument("--out", type=Path, default=Path("runs/paper-experiment"))
    parser.add_argument("--address", help="a Ray cluster to run the sweep on")
    args = parser.parse_args(argv)
    sweep = ["sweep", str(args.spec), "--out", str(args.out)]
    for flag, value in (("--data", args.data), ("--address", args.address)):
        sweep += [flag, value] if value else []
    status = rmt_gui(sweep)
    if status != 0:
        return status
    runs, data = baselines(args.spec, args.out, args.data)
    rank_sweep(runs, data, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
