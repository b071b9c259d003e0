"""The typed change events a :class:`~rmt_gui.state.document.Document` and the workspace emit.

Each is a small frozen record, so a subscriber learns what changed without reading widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

StateReason = Literal["opened", "applied", "undo", "redo", "jump"]


@dataclass(frozen=True)
class StateChanged:
    """The current model state changed: the history cursor moved or a step was pushed."""

    reason: StateReason
    cursor: int
    steps: int


@dataclass(frozen=True)
class ReportAdded:
    """A worker's report of one layer arrived for ``model`` (current or not)."""

    model: Any
    report: Any
    current: bool


@dataclass(frozen=True)
class EvaluationSet:
    """Step ``index`` of the history received its test-set evaluation."""

    index: int
    evaluation: Any


INFO_SECONDS = 8.0
"""How long an information line stays in the status bar once shown (errors stay until the
owner's next action replaces them)."""


@dataclass(frozen=True)
class Status:
    """One line for the status bar; ``error`` lines are shown in red."""

    text: str
    error: bool = False

    @property
    def lifetime(self) -> float | None:
        """Seconds the line stays once shown: :data:`INFO_SECONDS`, ``None`` for errors and
        the empty line (they stay until replaced)."""
        return INFO_SECONDS if self.text and not self.error else None


@dataclass(frozen=True)
class Busy:
    """Progress of background work; an empty ``text`` means nothing is running."""

    text: str = ""
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class SweepPoint:
    """One rank of a sweep: test accuracy (0–1) with the layer truncated to ``rank``."""

    rank: int
    accuracy: float


@dataclass(frozen=True)
class Sweep:
    """A rank sweep of ``layer`` in one model state: its BEMA mark and the points so far."""

    layer: str
    n_signal: int
    total: int
    points: tuple[SweepPoint, ...] = field(default=())
    message: str = ""

    @property
    def done(self) -> bool:
        """Whether every planned rank has been evaluated."""
        return len(self.points) >= self.total
