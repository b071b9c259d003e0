"""One open model file as Qt-free state: its history of model states and their layer reports.

The UI owns a :class:`Document` per open file; workers fill in reports, the UI thread reads
them. Reports are kept per model object (weakly, so states dropped from the history vanish).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

    from rmt_gui.jobs.analysis_job import LayerReport, Opened
    from rmt_gui.model.checkpoint import LayerInfo
    from rmt_gui.model.history import History


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

    def __init__(self, opened: Opened) -> None:
        from rmt_gui.model.history import History

        self.checkpoint = opened.checkpoint
        self.path = Path(opened.checkpoint.path)
        self.not_runnable = opened.not_runnable
        self.history: History = History(opened.model, f"opened {self.path.name}")
        self.saved_model: nn.Module = opened.model
        self._analyses: weakref.WeakKeyDictionary[nn.Module, ModelAnalysis] = (
            weakref.WeakKeyDictionary()
        )
        self._analyses[opened.model] = ModelAnalysis(opened.layers)

    @property
    def name(self) -> str:
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

    def mark_saved(self) -> None:
        """The current state was exported: closing now loses nothing."""
        self.saved_model = self.history.model
