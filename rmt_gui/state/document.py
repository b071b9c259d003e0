"""One open model file as Qt-free, evented state: its history, reports, sweeps and status.

The UI owns a :class:`Document` per open file (held by a
:class:`~rmt_gui.state.workspace.Workspace`). Every change goes through a method of the
document, which emits a typed event (:mod:`rmt_gui.state.events`) on a psygnal ``Signal``;
views subscribe to the events they draw and never refresh one another. psygnal is used rather
than Qt signals because it is Qt-free (the state stays importable and testable without a
display, as in napari, which uses it for the same reason) and typed.

psygnal calls subscribers synchronously on the emitting thread, so call these methods on the
UI thread only: workers post their results to the UI thread, which then calls the method.
Reports and sweeps are kept per model object (weakly, so states dropped from the history
vanish with them).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from psygnal import Signal

from rmt_gui.state.events import (
    Busy,
    EvaluationSet,
    ReportAdded,
    StateChanged,
    StateReason,
    Status,
    Sweep,
    SweepPoint,
)

if TYPE_CHECKING:
    from torch import nn

    from rmt_gui.jobs.analysis_job import LayerReport, Opened
    from rmt_gui.model.checkpoint import LayerInfo
    from rmt_gui.model.history import History, Step
    from rmt_gui.model.surgery import LayerChange


def successor_layer(name: str | None, layers: tuple[LayerInfo, ...]) -> str | None:
    """The layer that replaced ``name`` (its first factor), else the first layer."""
    if name is not None:
        prefix = name.removesuffix(".weight")
        for info in layers:
            if info.factor_group == prefix:
                return info.name
    return layers[0].name if layers else None


@dataclass
class ModelAnalysis:
    """The layers of one model state and the reports received for them so far."""

    layers: tuple[LayerInfo, ...]
    reports: dict[str, LayerReport] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether every layer has a report."""
        return len(self.reports) == len(self.layers)


class Document:
    """An opened file, its undo history and the analysis of each of its model states."""

    state_changed = Signal(StateChanged)
    report_added = Signal(ReportAdded)
    evaluation_set = Signal(EvaluationSet)
    focus_changed = Signal(str)
    sweep_changed = Signal(Sweep)
    saved_changed = Signal(bool)
    status_changed = Signal(Status)
    busy_changed = Signal(Busy)

    def __init__(self, opened: Opened) -> None:
        from rmt_gui.model.history import History

        self.checkpoint = opened.checkpoint
        self.path = Path(opened.checkpoint.path)
        self.not_runnable = opened.not_runnable
        self.history: History = History(opened.model, f"opened {self.path.name}")
        self.saved_model: nn.Module = opened.model
        self.focus: str | None = None
        self.status = Status("")
        self.busy = Busy()
        self._analyses: weakref.WeakKeyDictionary[nn.Module, ModelAnalysis] = (
            weakref.WeakKeyDictionary()
        )
        self._sweeps: weakref.WeakKeyDictionary[nn.Module, dict[str, Sweep]] = (
            weakref.WeakKeyDictionary()
        )
        self._analyses[opened.model] = ModelAnalysis(opened.layers)

    @property
    def name(self) -> str:
        """The file's name, as tabs, status lines and overlay choices show it."""
        return self.path.name

    @property
    def model(self) -> nn.Module:
        """The current model state."""
        return self.history.model

    @property
    def dirty(self) -> bool:
        """Whether the current state differs from the opened or last exported one."""
        return self.history.model is not self.saved_model

    @property
    def original(self) -> nn.Module:
        """The model as opened (step 0)."""
        return self.history.steps[0].model

    @property
    def earlier_steps(self) -> list[str]:
        """Steps recorded in the file by an earlier session (before it was opened here)."""
        return [str(step) for step in getattr(self.checkpoint, "history", None) or []]

    # -- history ----------------------------------------------------------------------------

    def apply(self, description: str, model: nn.Module, changes: tuple[LayerChange, ...]) -> Step:
        """Push ``model`` (made by pruning the current state) as a new step."""
        step = self.history.apply(description, lambda _m: (model, list(changes)))
        self._moved("applied")
        return step

    def undo(self) -> None:
        """Step back one state, if there is one."""
        if self.history.can_undo:
            self.history.undo()
            self._moved("undo")

    def redo(self) -> None:
        """Step forward again, if a step was undone."""
        if self.history.can_redo:
            self.history.redo()
            self._moved("redo")

    def jump(self, index: int) -> None:
        """Move to step ``index`` (a click in the history list); unknown steps are ignored."""
        if index != self.history.cursor and 0 <= index < len(self.history.steps):
            self.history.jump(index)
            self._moved("jump")

    def _moved(self, reason: StateReason) -> None:
        """Announce a new current state (and the change of the unsaved mark it implies)."""
        history = self.history
        self.state_changed.emit(StateChanged(reason, history.cursor, len(history.steps)))
        self.saved_changed.emit(self.dirty)

    def set_evaluation(self, model: nn.Module, evaluation: object) -> None:
        """Attach a test-set result to the step holding ``model`` (dropped if it is gone)."""
        for index, step in enumerate(self.history.steps):
            if step.model is model:
                step.evaluation = evaluation
                self.evaluation_set.emit(EvaluationSet(index, evaluation))
                return

    def mark_saved(self, model: nn.Module | None = None) -> None:
        """``model`` (default: the current state) was exported; only the current one counts."""
        if model is None or model is self.history.model:
            self.saved_model = self.history.model
            self.saved_changed.emit(self.dirty)

    def close(self) -> None:
        """The document's tab closed: drop every subscriber (late worker results go nowhere)."""
        for name in SIGNALS:
            getattr(self, name).disconnect()

    # -- focus, status, progress ------------------------------------------------------------

    def set_focus(self, name: str | None) -> None:
        """The layer the user looks at (spectrum, sweep) changed."""
        if name is not None and name != self.focus:
            self.focus = name
            self.focus_changed.emit(name)

    def post_status(self, text: str, error: bool = False) -> None:
        """Record this document's latest message for the status bar (``""``: none); the
        window lets an information line expire (:attr:`Status.lifetime`)."""
        self.status = Status(text, error)
        self.status_changed.emit(self.status)

    def set_busy(self, text: str = "", done: int = 0, total: int = 0) -> None:
        """Record the progress of this document's background work (``""``: none).

        Starting work (busy after idle) is the user's next action: it clears an error line,
        which would otherwise come back, stale, once the work ends.
        """
        if text and not self.busy.text and self.status.error:
            self.post_status("")
        self.busy = Busy(text, done, total)
        self.busy_changed.emit(self.busy)

    # -- analysis ---------------------------------------------------------------------------

    def analysis(self, model: nn.Module | None = None) -> ModelAnalysis | None:
        """The analysis of ``model`` (default: the current state), if one was started."""
        return self._analyses.get(self.model if model is None else model)

    def start_analysis(self, model: nn.Module, layers: tuple[LayerInfo, ...]) -> ModelAnalysis:
        """Register the layers of a new state; reports arrive through :meth:`add_report`."""
        analysis = ModelAnalysis(layers)
        self._analyses[model] = analysis
        return analysis

    def add_report(self, model: nn.Module, report: LayerReport) -> None:
        """Store a worker's report for one layer of ``model``."""
        analysis = self._analyses.get(model)
        if analysis is not None:
            analysis.reports[report.name] = report
            self.report_added.emit(ReportAdded(model, report, model is self.model))

    def reports(self, model: nn.Module | None = None) -> list[LayerReport]:
        """Reports of ``model`` (default: current) received so far, in layer order."""
        analysis = self.analysis(model)
        if analysis is None:
            return []
        return [analysis.reports[i.name] for i in analysis.layers if i.name in analysis.reports]

    def report(self, name: str, model: nn.Module | None = None) -> LayerReport | None:
        """The report of layer ``name`` of ``model`` (default: current), if it has arrived."""
        analysis = self.analysis(model)
        return None if analysis is None else analysis.reports.get(name)

    def counterpart(self, name: str, model: nn.Module) -> LayerReport | None:
        """Layer ``name`` (or the layer it was factorised from) in the state ``model``."""
        found = self.report(name, model)
        if found is not None:
            return found
        analysis = self.analysis(self.model)
        info = next((i for i in analysis.layers if i.name == name), None) if analysis else None
        if info is not None and info.factor_group is not None:
            return self.report(f"{info.factor_group}.weight", model)
        return None

    # -- rank sweeps ------------------------------------------------------------------------

    def sweep(self, model: nn.Module | None = None, layer: str | None = None) -> Sweep | None:
        """The sweep of ``layer`` (default: the focus) in ``model`` (default: current)."""
        found = self._sweeps.get(self.model if model is None else model, {})
        key = self.focus if layer is None else layer
        return None if key is None else found.get(key)

    def begin_sweep(self, model: nn.Module, layer: str, n_signal: int, total: int) -> None:
        """A sweep of ``layer`` in ``model`` started; it replaces any earlier one."""
        self._store_sweep(model, Sweep(layer, n_signal, total))

    def add_sweep_point(self, model: nn.Module, layer: str, rank: int, accuracy: float) -> None:
        """One rank of the sweep of ``layer`` in ``model`` was evaluated."""
        sweep = self.sweep(model, layer)
        if sweep is not None:
            point = SweepPoint(rank, accuracy)
            self._store_sweep(model, replace(sweep, points=(*sweep.points, point)))

    def end_sweep(self, model: nn.Module, layer: str, message: str) -> None:
        """The sweep stopped early (cancelled or failed): keep its points, say why."""
        sweep = self.sweep(model, layer)
        if sweep is not None:
            self._store_sweep(model, replace(sweep, total=len(sweep.points), message=message))

    def _store_sweep(self, model: nn.Module, sweep: Sweep) -> None:
        self._sweeps.setdefault(model, {})[sweep.layer] = sweep
        self.sweep_changed.emit(sweep)


SIGNALS = tuple(name for name, value in vars(Document).items() if isinstance(value, Signal))
"""The names of every signal a :class:`Document` emits (:meth:`Document.close` empties them)."""
