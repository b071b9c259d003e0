"""The compare view's delta table as plain data: per layer, the change of every metric.

Each metric column shows ``B - A``; its sort key is ``|B - A|`` (undefined changes last when
sorted largest first) and its tooltip the two values and the relative change
``|B - A| / max(|A|, |B|)`` (:class:`rmt_gui.model.compare.MetricChange`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rmt_gui.model.compare import LayerComparison, MetricChange, metric_names
from rmt_gui.state.layer_filter import role_label
from rmt_gui.state.layer_metrics import METRICS, metric_text

FIXED = ("Layer", "Role", "Largest change")
"""The columns before one column per metric."""
HEADERS = {
    "params": "params", "sv_max": "s max", "sigma2": "σ²", "lambda_plus": "λ₊",
    "sv_threshold": "s₊", "warning": "label",
    **{metric.key: metric.header for metric in METRICS},
}  # fmt: skip
"""Readable names of the analysis record's keys (a key not listed shows with spaces)."""


def metric_label(name: str) -> str:
    """The readable name of one metric, e.g. ``λ₊`` for ``lambda_plus``."""
    return HEADERS.get(name, name.replace("_", " "))


@dataclass(frozen=True)
class DeltaCell:
    """One cell: its text, its sort key and its tooltip."""

    text: str
    key: float | str
    tip: str = ""


def _delta_cell(name: str, change: MetricChange | None) -> DeltaCell:
    """The cell of one metric's change (``—`` when undefined in A or B)."""
    metric = metric_label(name)
    if change is None or change.delta is None:
        a = metric_text(None if change is None else change.a)
        b = metric_text(None if change is None else change.b)
        return DeltaCell("—", -math.inf, f"{metric}: A {a}, B {b}")
    sign = "+" if change.delta > 0 else ""
    relative = change.relative or 0.0
    tip = (f"{metric}: A {metric_text(change.a)} → B {metric_text(change.b)} "
           f"(relative change {relative:.1%})")  # fmt: skip
    return DeltaCell(f"{sign}{metric_text(change.delta)}", abs(change.delta), tip)


def delta_headers(layers: list[LayerComparison]) -> list[str]:
    """The table's headers: the fixed columns then ``Δ metric`` for every metric."""
    return [*FIXED, *(f"Δ {metric_label(name)}" for name in metric_names(layers))]


def delta_rows(layers: list[LayerComparison]) -> list[list[DeltaCell]]:
    """One row of cells per layer, in the order given (largest change first)."""
    names = metric_names(layers)
    rows = []
    for layer in layers:
        info = layer.info
        problems = "\n".join(layer.problems)
        fixed = [
            DeltaCell(info.name, info.name, problems or info.name),
            DeltaCell(role_label(info), role_label(info)),
            DeltaCell(f"{layer.change:.1%}", layer.change, "largest relative change of a metric"),
        ]
        rows.append(fixed + [_delta_cell(name, layer.metrics.get(name)) for name in names])
    return rows
