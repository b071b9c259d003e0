"""The accuracy–size curve of one model state as it fills in (Qt-free, for the Compress tab).

Points are :class:`rmt_gui.jobs.compress_job.CurvePoint` events from the worker; accuracies are
fractions of the validation split (held out of the MNIST training set), ``kept`` the fraction of
the original parameter count (every tensor counted).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np

from rmt_gui.jobs.compress_job import CurvePoint, CurveStart

CSV_COLUMNS = ("method", "target_fraction", "params", "kept", "val_accuracy", "val_loss", "ranks")
METHOD_LABELS = {
    "svd": "plain SVD",
    "whitened": "whitened SVD",
    "whitened+finetune": "whitened + fine-tune",
    "bema": "BEMA ranks",
}


def ranks_text(ranks: tuple[tuple[str, int | None], ...]) -> str:
    """``fc1.weight=20;fc2.weight=dense``: one cell for a point's per-layer ranks."""
    return ";".join(f"{layer}={'dense' if rank is None else rank}" for layer, rank in ranks)


@dataclass
class CurveState:
    """The curve received so far: its start (size, baseline accuracy, grid) and its points."""

    start: CurveStart | None = None
    points: list[CurvePoint] = field(default_factory=list)
    stage: str = ""
    message: str = ""

    @property
    def total(self) -> int:
        """Points the curve will have: BEMA's plus one per method and fraction."""
        if self.start is None:
            return 0
        return 1 + len(self.start.methods) * len(self.start.fractions)

    @property
    def complete(self) -> bool:
        """Whether every point has arrived."""
        return self.start is not None and len(self.points) >= self.total

    def add(self, event: object) -> None:
        """Take one event of the curve job (start, point, or a stage's name and detail)."""
        if isinstance(event, CurveStart):
            self.start, self.points = event, []
        elif isinstance(event, CurvePoint):
            self.points.append(event)
        else:
            name, detail = getattr(event, "name", ""), getattr(event, "detail", "")
            self.stage = f"{name}: {detail}" if detail else name

    @property
    def bema(self) -> CurvePoint | None:
        """BEMA's data-free point, once measured."""
        return next((p for p in self.points if p.method == "bema"), None)

    def series(self, method: str) -> list[CurvePoint]:
        """The points of ``method``, smallest model first."""
        return sorted((p for p in self.points if p.method == method), key=lambda p: p.params)

    def xy(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        """``method``'s points as percent of parameters kept and percent validation accuracy."""
        points = self.series(method)
        kept = np.array([p.kept for p in points], dtype=float)
        accuracy = np.array([p.val_accuracy for p in points], dtype=float)
        return 100.0 * kept, 100.0 * accuracy

    def within(self, method: str, kept: float) -> CurvePoint | None:
        """The largest measured point of ``method`` keeping at most ``kept`` of the parameters
        (a typed budget), else ``None``."""
        fitting = [p for p in self.series(method) if p.kept <= kept + 1e-12]
        return fitting[-1] if fitting else None

    def csv_text(self) -> str:
        """Every point as CSV (columns :data:`CSV_COLUMNS`; blank target for BEMA's point)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for p in self.points:
            target = "" if p.fraction is None else f"{p.fraction:g}"
            writer.writerow(
                [
                    p.method,
                    target,
                    p.params,
                    f"{p.kept:.6f}",
                    f"{p.val_accuracy:.6f}",
                    f"{p.val_loss:.6f}",
                    ranks_text(p.ranks),
                ]
            )
        return buffer.getvalue()
