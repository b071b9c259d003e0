"""Every layer's numbers side by side: the BEMA fit and WeightWatcher's metrics, as a matrix.

The heat-map overview and the table read a layer report's numbers here. Each metric is
normalised per column to ``[0, 1]`` by its own range over the layers shown
(``(v - min) / (max - min)``; a column with one value reads ``0.5``), so metrics of any unit
share one colour scale; undefined values stay ``NaN``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from rmt_gui.jobs.analysis_job import LayerReport


@dataclass(frozen=True)
class Metric:
    """One column: its key in a layer record, a short header and what it measures."""

    key: str
    header: str
    tip: str


METRICS = (
    Metric("alpha", "α", "power-law exponent of the eigenvalue tail (WeightWatcher)"),
    Metric("alpha_weighted", "αw", "alpha × log₁₀ of the largest eigenvalue (WeightWatcher)"),
    Metric("log_norm", "log norm", "log₁₀ of the squared Frobenius norm Σσ²"),
    Metric("log_spectral_norm", "log σ²max", "log₁₀ of the largest eigenvalue σ²max"),
    Metric("stable_rank", "stable rank", "Σσ² / σ²max"),
    Metric("mp_softrank", "softrank", "fitted MP bulk edge over σ²max (WeightWatcher)"),
    Metric("n_signal", "n_signal", "eigenvalues above the BEMA cutoff λ₊ (an update: its rank)"),
    Metric("fit_error", "fit error", "largest CDF gap of the MP fit over the bulk"),
    Metric("rank_gavish_donoho", "GD rank", "Gavish–Donoho optimal hard-threshold rank"),
)
"""The heat map's columns, in order."""
KEYS = tuple(metric.key for metric in METRICS)
WW_KEYS = ("alpha", "alpha_weighted", "log_norm", "log_spectral_norm", "stable_rank", "mp_softrank")
"""The keys read off a report's WeightWatcher metrics."""


def metric_values(report: LayerReport | None) -> dict[str, float | None]:
    """Every :data:`METRICS` value of one layer report, ``None`` where undefined.

    An adapter update has neither a fit nor WeightWatcher's metrics (no bulk, no tail): only
    its rank, as ``n_signal``.
    """
    values: dict[str, float | None] = dict.fromkeys(KEYS)
    if report is None:
        return values
    if report.metrics is not None:
        values.update({key: getattr(report.metrics, key) for key in WW_KEYS})
    if report.update is not None:
        values["n_signal"] = len(report.update.values)
    elif report.analysis is not None:
        fit = report.analysis.fit
        values["n_signal"], values["fit_error"] = fit.n_signal, fit.fit_error
        values["rank_gavish_donoho"] = report.analysis.rank_gavish_donoho
    return values


def metric_text(value: float | None) -> str:
    """A metric as a table shows it: 4 significant digits, ``—`` when undefined."""
    if value is None:
        return "—"
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def _number(value: float | None) -> float:
    """A metric as a float, ``NaN`` where it is undefined."""
    return np.nan if value is None else float(value)


def metric_matrix(reports: Sequence[LayerReport | None]) -> NDArray[np.float64]:
    """``(layers, metrics)`` values of :data:`METRICS`, ``NaN`` where undefined."""
    rows = [metric_values(report) for report in reports]
    table = [[_number(row[key]) for key in KEYS] for row in rows]
    return np.array(table, dtype=np.float64).reshape(len(rows), len(KEYS))


def normalised(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each column min–max scaled to ``[0, 1]`` (a constant column: ``0.5``), ``NaN`` kept."""
    if matrix.size == 0:
        return matrix.copy()
    defined = ~np.isnan(matrix)
    low = np.min(np.where(defined, matrix, np.inf), axis=0)
    high = np.max(np.where(defined, matrix, -np.inf), axis=0)
    span = high - low
    flat = ~(span > 0)
    scaled = (matrix - low) / np.where(flat, 1.0, span)
    return np.where(defined, np.where(flat, 0.5, scaled), np.nan)
