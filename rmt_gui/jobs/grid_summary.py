"""A sweep's summary: per-trial and per-cell tables and the accuracy-per-epoch chart.

Writes into the sweep folder ``runs.csv`` (one row per trial), ``epochs.csv`` (one row per
trial and epoch), ``summary.csv`` and ``table.md`` (per cell: final and best test accuracy as
mean ± sample standard deviation over its seeds, min – max, parameters, final architecture,
seconds per epoch; the best cell by mean final accuracy) and ``accuracy_per_epoch.png`` (each
cell's mean test accuracy per epoch, its min – max band shaded). Accuracies are fractions in
the CSV files and percentages in the table and chart.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmt_gui.jobs.grid_spec import Trial, cell_label
from rmt_gui.jobs.png_chart import Series, line_chart
from rmt_gui.model.atomic_file import atomic_write

TABLE_HEAD = (
    "| cell | final test accuracy (mean ± std) | min – max | best accuracy (mean ± std) "
    "| parameters | final architecture | s / epoch |\n|---|---|---|---|---|---|---|"
)


@dataclass(frozen=True)
class TrialRecord:
    """A finished trial: its ``run.json`` end record and its ``metrics.jsonl`` epoch rows."""

    trial: Trial
    ended: dict[str, Any]
    epochs: list[dict[str, Any]]

    @property
    def architecture(self) -> str:
        """``784-1000-10``, a factorised layer written ``784-352-1000``."""
        layers = self.ended["layers"]
        widths = [layers[0]["shape"][1]] + [layer["shape"][0] for layer in layers]
        return "-".join(map(str, widths))

    def row(self) -> dict[str, Any]:
        """The trial's ``runs.csv`` row (its axis values as columns of their own)."""
        accuracies = [e["test_accuracy"] for e in self.epochs]
        return {
            "id": self.trial.id, "cell": self.trial.label, **dict(self.trial.cell),
            "seed": self.trial.seed, "final_accuracy": self.ended["test_accuracy"],
            "best_accuracy": max(accuracies), "best_epoch": accuracies.index(max(accuracies)) + 1,
            "params": self.ended["params"], "architecture": self.architecture,
            "seconds_per_epoch": statistics.fmean(e["seconds"] for e in self.epochs),
            "eval_seconds_per_epoch": statistics.fmean(e["eval_seconds"] for e in self.epochs),
        }  # fmt: skip


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` as CSV (floats to 6 significant digits), written atomically."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, list(dict.fromkeys(k for row in rows for k in row)))
    writer.writeheader()
    writer.writerows(
        {k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()} for row in rows
    )
    text = buffer.getvalue().encode()
    atomic_write(path, lambda handle: handle.write(text), force=True)


def cell_summary(cell: str, records: Sequence[TrialRecord]) -> dict[str, Any]:
    """One cell's ``summary.csv`` row over its trials (its seeds)."""
    rows = [record.row() for record in records]
    final = [row["final_accuracy"] for row in rows]
    final_mean, final_sd = mean_std(final)
    best_mean, best_sd = mean_std([row["best_accuracy"] for row in rows])
    return {
        "cell": cell, "runs": len(rows), "final_accuracy_mean": final_mean,
        "final_accuracy_std": final_sd, "final_accuracy_min": min(final),
        "final_accuracy_max": max(final), "best_accuracy_mean": best_mean,
        "best_accuracy_std": best_sd, "params": statistics.fmean(row["params"] for row in rows),
        "architectures": " / ".join(sorted({row["architecture"] for row in rows})),
        "seconds_per_epoch": statistics.fmean(row["seconds_per_epoch"] for row in rows),
    }  # fmt: skip


def table_line(s: dict[str, Any]) -> str:
    """One cell's row of ``table.md``."""
    return (
        f"| {s['cell']} ({s['runs']} seeds) | {100 * s['final_accuracy_mean']:.2f} ± "
        f"{100 * s['final_accuracy_std']:.2f} % | {100 * s['final_accuracy_min']:.2f} – "
        f"{100 * s['final_accuracy_max']:.2f} % | {100 * s['best_accuracy_mean']:.2f} ± "
        f"{100 * s['best_accuracy_std']:.2f} % | {s['params']:,.0f} | {s['architectures']} "
        f"| {s['seconds_per_epoch']:.1f} |"
    )


def best_line(summary: Sequence[dict[str, Any]]) -> str:
    """The cell with the highest mean final accuracy, in one sentence."""
    best = max(summary, key=lambda s: s["final_accuracy_mean"])
    return (
        f"Best cell: {best['cell']}: final test accuracy {100 * best['final_accuracy_mean']:.2f}"
        f" ± {100 * best['final_accuracy_std']:.2f} % with {best['params']:,.0f} parameters."
    )


def by_cell(records: Sequence[TrialRecord]) -> dict[str, list[TrialRecord]]:
    """The records grouped by cell, cells in the order their first trial comes."""
    groups: dict[str, list[TrialRecord]] = {}
    for record in records:
        groups.setdefault(cell_label(record.trial.cell), []).append(record)
    return groups


def epoch_chart(groups: dict[str, list[TrialRecord]], path: Path) -> None:
    """Each cell's mean test accuracy per epoch (%), shaded between its min and max."""
    series = []
    for cell, records in groups.items():
        epochs = min(len(record.epochs) for record in records)
        per_epoch = [[100 * r.epochs[e]["test_accuracy"] for r in records] for e in range(epochs)]
        band = ([min(v) for v in per_epoch], [max(v) for v in per_epoch])
        means = [statistics.fmean(v) for v in per_epoch]
        label = f"{cell} (mean of {len(records)} seeds, band: min-max)"
        series.append(Series(label, range(1, epochs + 1), means, band=band))
    last = max(len(s.ys) for s in series)
    low = min(min(s.band[0]) for s in series if s.band is not None)
    line_chart(
        path, series, title="Test accuracy per epoch", x_label="epoch",
        y_label="test accuracy (%)", x_range=(1, last) if last > 1 else (0, 2),
        y_range=(max(0.0, (low // 1) - 1), 100),
    )  # fmt: skip


def write_summary(records: Sequence[TrialRecord], out: Path) -> list[dict[str, Any]]:
    """Write every summary file into ``out``; returns the per-cell rows."""
    groups = by_cell(records)
    summary = [cell_summary(cell, group) for cell, group in groups.items()]
    write_csv(out / "runs.csv", [record.row() for record in records])
    write_csv(out / "epochs.csv", [
        {"id": r.trial.id, "cell": r.trial.label, "seed": r.trial.seed,
         **{k: v for k, v in e.items() if k != "event"}}
        for r in records for e in r.epochs
    ])  # fmt: skip
    write_csv(out / "summary.csv", summary)
    lines = [TABLE_HEAD, *map(table_line, summary), "", best_line(summary)]
    text = ("\n".join(lines) + "\n").encode()
    atomic_write(out / "table.md", lambda handle: handle.write(text), force=True)
    epoch_chart(groups, out / "accuracy_per_epoch.png")
    return summary
