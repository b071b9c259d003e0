"""Per-layer report of a document's current state as CSV and JSON (no Qt, no plotting)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from rmt_gui.state.document import Document

CSV_COLUMNS = (
    "name", "shape", "params", "rank", "n_signal", "sigma2", "lambda_plus", "sv_threshold",
    "sv_max", "fit_error", "good_fit", "rank_gavish_donoho", "prunable", "problem",
)  # fmt: skip


def layer_rows(document: Document) -> list[dict[str, Any]]:
    """One record per layer of the current state: the ``analyze --json`` fields plus rank."""
    rows = []
    for report in document.reports():
        base = report.analysis.to_json() if report.analysis is not None else {
            "name": report.name, "shape": list(report.info.shape), "params": report.info.params,
        }  # fmt: skip
        rows.append({**base, "rank": report.rank, "prunable": report.prunable,
                     "problem": report.problem})  # fmt: skip
    return rows


def history_rows(document: Document) -> list[dict[str, Any]]:
    """Each history step: description, parameters, evaluation when one was run."""
    rows = []
    for index, step in enumerate(document.history.steps):
        evaluation = step.evaluation.to_json() if step.evaluation is not None else None
        rows.append({
            "step": index, "description": step.description, "params": step.params,
            "current": index == document.history.cursor, "evaluation": evaluation,
        })  # fmt: skip
    return rows


def report_json(document: Document) -> dict[str, Any]:
    """The whole report as one JSON-ready document."""
    return {
        "file": str(document.path),
        "format": document.checkpoint.format,
        "detail": document.checkpoint.detail,
        "runnable": not document.not_runnable,
        "layers": layer_rows(document),
        "history": history_rows(document),
    }


def report_csv(document: Document) -> str:
    """The per-layer table as CSV text (shape written as ``OUTxIN``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in layer_rows(document):
        writer.writerow({**row, "shape": "x".join(str(d) for d in row["shape"])})
    return buffer.getvalue()


def write_reports(document: Document, base: Path) -> list[Path]:
    """Write ``base.csv`` and ``base.json``; returns the paths written."""
    csv_path, json_path = base.with_suffix(".csv"), base.with_suffix(".json")
    csv_path.write_text(report_csv(document), encoding="utf-8")
    json_path.write_text(json.dumps(report_json(document), indent=2), encoding="utf-8")
    return [csv_path, json_path]
