"""Export a model state in a worker: the file is written atomically by the core, then measured.

The measurement (:func:`rmt_gui.model.export_report.measure_export`: size on disk, CPU latency
at batch 1 and 256 before and after, onnxruntime's check of an ONNX file) runs here, in the
worker process, so the UI thread never times anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from rmt_gui.jobs.control import CancelToken
from rmt_gui.jobs.model_transfer import ModelData, model_from_data
from rmt_gui.model.export import export_model
from rmt_gui.model.export_report import ExportReport, measure_export


@dataclass(frozen=True)
class ExportDone:
    """The written file and how it compares with the original model and file."""

    path: Path
    report: ExportReport


def export_job(
    model: nn.Module,
    path: Path,
    fmt: str,
    history: list[str],
    metadata: Mapping[str, Any],
    original: ModelData | None,
    source: Path,
    token: CancelToken,
) -> Iterator[ExportDone]:
    """Write ``model`` to ``path`` as ``fmt``, replacing what the user chose to overwrite, and
    measure it against ``original`` read from ``source`` (``None``: ``model`` is the original).

    A symbolic link there is replaced itself; the file it points to is left alone.
    """
    token.check()
    written = export_model(model, path, fmt, force=True, history=history, metadata=metadata)
    token.check()
    before = model if original is None else model_from_data(original)
    yield ExportDone(written, measure_export(before, source, model, written, fmt))
