"""One open model file: layer table, spectrum views, prune panel and history, kept in sync.

Opening, analysis, previews and pruning run as jobs (see :mod:`rmt_gui.ui.workers`); this view
reacts to their results and to the user. Evaluation, sweeps and export live in
:class:`rmt_gui.ui.document_tasks.DocumentTasks`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from rmt_gui.state.document import Document, successor_layer
from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.ui import theme
from rmt_gui.ui.data_source import DataSource
from rmt_gui.ui.document_tasks import DocumentTasks
from rmt_gui.ui.history_panel import HistoryPanel
from rmt_gui.ui.layer_table import LayerTable
from rmt_gui.ui.multiples_view import MultiplesView
from rmt_gui.ui.prune_panel import PrunePanel
from rmt_gui.ui.spectrum_view import SpectrumView
from rmt_gui.ui.sweep_view import SweepView
from rmt_gui.ui.workers import Runner

PREVIEW_DELAY_MS = 150
BEFORE = "before pruning (as opened)"


class DocumentView(QWidget):
    """Everything about one file; the main window shows one per tab."""

    status = Signal(str, bool)
    busy = Signal(str, int, int)
    opened = Signal(Path)
    openFailed = Signal(Path, str)
    trustNeeded = Signal(Path)
    changed = Signal()

    def __init__(
        self,
        path: Path,
        options: dict[str, Any],
        data: DataSource,
        peers: Callable[[], list[DocumentView]],
        trust: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.path, self.trust, self.peers = Path(path), trust, peers
        self.document: Document | None = None
        self.preview = None
        self.runner = Runner(self)
        plot = options.get("plot", {})
        self.plot_options = PlotOptions(
            plot.get("scale", "eigen"), bool(plot.get("log", True)), int(plot.get("bins", 60))
        )
        self.header = QLabel(f"Opening <b>{self.path.name}</b>…")
        self.banner = QLabel("")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            f"background: {theme.WARNING_BG}; border: 1px solid #e0c060; padding: 4px;"
        )
        self.banner.hide()
        self.table = LayerTable()
        self.history = HistoryPanel(int(options.get("eval_count", 10_000)))
        self.spectrum = SpectrumView(self.plot_options)
        self.multiples = MultiplesView(self.plot_options)
        self.sweep = SweepView(
            int(options.get("sweep_points", 16)), bool(options.get("sweep_log", True))
        )
        self.prune = PrunePanel(options.get("prune", {}))
        self.views = QTabWidget()
        self.views.addTab(self.spectrum, "Spectrum")
        self.views.addTab(self.multiples, "All layers")
        self.views.addTab(self.sweep, "Rank sweep")
        self.left = QSplitter(Qt.Orientation.Vertical)
        self.left.addWidget(self.table)
        self.left.addWidget(self.history)
        self.left.setSizes([420, 260])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget in (self.left, self.views, self.prune):
            self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([600, 680, 330])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.header)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.tasks = DocumentTasks(self, data)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.request_preview)
        self._connect()

    def _connect(self) -> None:
        self.table.currentLayerChanged.connect(self.show_layer)
        self.table.layersSelected.connect(self._selection_changed)
        self.multiples.layerClicked.connect(self.table.select_layer)
        self.spectrum.optionsChanged.connect(self._plot_options_changed)
        self.spectrum.overlayChanged.connect(lambda _i: self.show_layer(self.current_layer()))
        self.spectrum.rankChosen.connect(self.prune.use_rank)
        self.spectrum.save_button.clicked.connect(self.tasks.save_plot)
        self.prune.ruleChanged.connect(self._rule_changed)
        self.prune.applyRequested.connect(self.apply_pruning)
        self.history.undoRequested.connect(self.undo)
        self.history.redoRequested.connect(self.redo)
        self.history.jumpRequested.connect(self.jump)
        self.history.evaluateRequested.connect(self.tasks.evaluate)
        self.history.cancelRequested.connect(lambda: self.runner.cancel("evaluate"))
        self.sweep.startRequested.connect(self.tasks.sweep)
        self.sweep.cancelRequested.connect(lambda: self.runner.cancel("sweep"))

    # -- opening and analysis ---------------------------------------------------------------

    def start(self) -> None:
        """Open the file and analyse it in the background."""
        path, trust = self.path, self.trust

        def work(token):
            from rmt_gui.jobs.analysis_job import open_and_analyze

            return open_and_analyze(path, trust, token)

        self.busy.emit(f"Opening {path.name}…", 0, 0)
        self.runner.start(
            "open", work, on_item=self._open_item, on_done=self._analysis_done,
            on_error=lambda message: self.openFailed.emit(self.path, message),
            on_cancel=lambda: self.busy.emit("", 0, 0),
        )  # fmt: skip

    def _open_item(self, item) -> None:
        from rmt_gui.jobs.analysis_job import NeedsTrust, Opened

        if isinstance(item, NeedsTrust):
            self.trustNeeded.emit(item.path)
        elif isinstance(item, Opened):
            self.document = Document(item)
            self.opened.emit(self.path)
            self._state_changed(analyse=False)
        else:
            self._report_arrived(self.document.original, item)

    def _report_arrived(self, model, report) -> None:
        doc = self.document
        doc.add_report(model, report)
        if model is not doc.model:
            return
        analysis = doc.analysis()
        self.table.source.set_report(report)
        self.multiples.update_report(report.name, report)
        done, total = len(analysis.reports), len(analysis.layers)
        self.busy.emit(f"Analysing {doc.name}: {report.name}", done, total)
        if self.current_layer() is None:
            self.table.select_layer(report.name)
        elif report.name == self.current_layer():
            self.show_layer(report.name)

    def _analysis_done(self) -> None:
        self.busy.emit("", 0, 0)
        doc = self.document
        if doc is not None:
            self._set_header()
            self.status.emit(f"{doc.name}: {len(doc.reports())} layers analysed", False)
            self.request_preview()

    def _analyse(self) -> None:
        """Analyse the current state's layers (cached spectra make unchanged layers instant)."""
        from rmt_gui.jobs.analysis_job import analyze_model, layers_of

        doc = self.document
        model = doc.model
        layers = layers_of(model, doc.checkpoint)
        doc.start_analysis(model, layers)
        self.runner.start(
            "analysis", lambda token: analyze_model(model, layers, token),
            on_item=lambda report: self._report_arrived(model, report),
            on_done=self._analysis_done, on_cancel=lambda: self.busy.emit("", 0, 0),
        )  # fmt: skip

    def _state_changed(self, analyse: bool = True) -> None:
        """The current model changed (opened, pruned, undone): refresh every view."""
        doc = self.document
        keep = self.current_layer()
        self.preview = None
        self.prune.clear_preview("Preview appears once the spectra are ready.")
        if doc.analysis() is None and analyse:
            self._analyse()
        analysis = doc.analysis()
        names = [info.name for info in analysis.layers]
        self.table.source.set_layers(list(analysis.layers))
        for report in analysis.reports.values():
            self.table.source.set_report(report)
        self.multiples.set_reports(names, analysis.reports)
        target = keep if keep in names else successor_layer(keep, analysis.layers)
        if target:
            self.table.select_layer(target)
        self._refresh_history()
        self._set_header()
        self.spectrum.set_overlay_choices(self.overlay_labels())
        if analysis.complete:
            self.request_preview()
        self.changed.emit()

    def _set_header(self) -> None:
        from rmt_gui.model.surgery import parameter_count

        doc = self.document
        analysis = doc.analysis()
        detail = f" ({doc.checkpoint.detail})" if doc.checkpoint.detail else ""
        self.header.setText(
            f"<b>{doc.name}</b> — {doc.checkpoint.format}{detail} · {len(analysis.layers)} "
            f"layers · {parameter_count(doc.model):,} parameters"
            + (" · <i>modified</i>" if doc.dirty else "")
        )
        self.banner.setText(f"⚠ {doc.not_runnable}. Evaluation and the rank sweep need a "
                            "runnable model.")  # fmt: skip
        self.banner.setVisible(bool(doc.not_runnable))
        self.history.set_note("")

    def _refresh_history(self) -> None:
        history = self.document.history
        self.history.show_history(history.steps, history.cursor)

    # -- selection and plots ----------------------------------------------------------------

    def current_layer(self) -> str | None:
        """The layer shown in the spectrum view."""
        return self.table.current_layer()

    def _selection_changed(self) -> None:
        if self.prune.selected_only:
            self._rule_changed()

    def _rule_changed(self) -> None:
        """Options or scope changed: the shown preview is stale until the new one arrives."""
        self.preview = None
        self.prune.apply_button.setEnabled(False)
        self._preview_timer.start()

    def overlay_labels(self) -> list[str]:
        """Spectra that can be overlaid: the opened state, and other open files."""
        labels = [BEFORE] if self.document and self.document.history.cursor > 0 else []
        return labels + [peer.path.name for peer in self.peers() if peer is not self]

    def _overlay_report(self, name: str):
        label = self.spectrum.overlay_box.currentText()
        doc = self.document
        if label == BEFORE and doc is not None:
            return doc.counterpart(name, doc.original)
        for peer in self.peers():
            if peer is not self and peer.path.name == label and peer.document is not None:
                return peer.document.counterpart(name, peer.document.model)
        return None

    def show_layer(self, name: str | None) -> None:
        """Draw layer ``name`` of the current state in the spectrum view."""
        doc = self.document
        if doc is None or name is None:
            return
        report = doc.report(name)
        self.spectrum.show_report(report, self._overlay_report(name), self._kept_rank(name))
        self.multiples.select(name)
        self.tasks.layer_selected(name, report)

    def _kept_rank(self, name: str) -> int | None:
        """Where the manual line starts: the previewed rank of ``name`` (else n_signal)."""
        if self.prune.method == "rank":
            return self.prune.rank.value()
        plans = self.preview.plans if self.preview is not None else ()
        return next((p.rank for p in plans if p.layer == name and not p.skipped), None)

    def _plot_options_changed(self, options: PlotOptions) -> None:
        self.plot_options = options
        self.multiples.set_options(options)

    # -- pruning and history ----------------------------------------------------------------

    def target_layers(self) -> list[str]:
        """Prunable layers in the prune panel's scope."""
        doc = self.document
        wanted = set(self.table.selected_layers()) if self.prune.selected_only else None
        return [
            r.name for r in doc.reports() if r.prunable and (wanted is None or r.name in wanted)
        ]

    def request_preview(self) -> None:
        """Plan the panel's rule on the current state in the background."""
        from rmt_gui.jobs.analysis_job import preview_job
        from rmt_gui.model.pruning import PruneRule, output_dim

        doc = self.document
        if doc is None or not doc.analysis().complete:
            return
        layers = self.target_layers()
        if not layers:
            self.runner.cancel("preview")
            if any(r.prunable for r in doc.reports()):
                self.prune.clear_preview("No prunable layer in scope: select layers in the table.")
            else:
                self.prune.clear_preview(
                    "Nothing to prune: these weights are not linear layers (spectra only)."
                )
            return
        model = doc.model
        rule = PruneRule(**self.prune.rule_fields(output_dim(model)))
        self.runner.start(
            "preview", lambda token: preview_job(model, layers, rule, token),
            on_item=self._preview_ready,
            on_error=lambda message: self.prune.clear_preview(f"Cannot preview: {message}"),
        )  # fmt: skip
        if self.prune.method == "rank":
            self.spectrum.set_manual_rank(self.prune.rank.value())

    def _preview_ready(self, preview) -> None:
        doc = self.document
        if preview.model is not doc.model:
            return
        self.preview = preview
        ranks = {r.name: r.rank for r in doc.reports()}
        self.prune.show_preview(preview, ranks)
        keep = {
            p.layer: ("skip" if p.skipped else str(p.rank), p.rank, p.factorize)
            for p in preview.plans
        }
        self.table.source.set_keep(keep)
        name = self.current_layer()
        rank = self._kept_rank(name) if name else None
        if rank is not None:
            self.spectrum.set_manual_rank(rank)

    def apply_pruning(self) -> None:
        """Apply the current preview in the background, then push it on the history."""
        from rmt_gui.jobs.analysis_job import apply_job

        doc, preview = self.document, self.preview
        if doc is None or preview is None or preview.model is not doc.model:
            self.status.emit("Nothing to apply yet: wait for the preview.", True)
            return
        description = preview.rule.describe()
        if self.prune.selected_only:
            description += " on " + ", ".join(p.layer for p in preview.plans if not p.skipped)
        self.busy.emit("Applying pruning…", 0, 0)
        self.prune.apply_button.setEnabled(False)
        self.runner.start(
            "apply", lambda token: apply_job(preview.model, preview.plans, preview.rule, token),
            on_item=lambda applied: self._applied(applied, description),
            on_error=self._apply_failed, on_cancel=lambda: self.busy.emit("", 0, 0),
        )  # fmt: skip

    def _applied(self, applied, description: str) -> None:
        self.busy.emit("", 0, 0)
        doc = self.document
        if applied.base is not doc.model:
            self.status.emit("The model changed while pruning ran; the result was dropped.", True)
            return
        doc.history.apply(description, lambda _m: (applied.model, list(applied.changes)))
        saved = sum(c.params_before - c.params_after for c in applied.changes)
        self.status.emit(f"{description}: {saved:,} parameters removed", False)
        self._state_changed()

    def _apply_failed(self, message: str) -> None:
        self.busy.emit("", 0, 0)
        self.status.emit(f"{self.path.name}: pruning failed: {message}", True)
        self.request_preview()

    def undo(self) -> None:
        if self.document is not None and self.document.history.can_undo:
            self.jump(self.document.history.cursor - 1)

    def redo(self) -> None:
        if self.document is not None and self.document.history.can_redo:
            self.jump(self.document.history.cursor + 1)

    def jump(self, index: int) -> None:
        """Move to step ``index`` of the history (undo, redo, or a click in the list)."""
        if self.document is not None and index != self.document.history.cursor:
            self.document.history.jump(index)
            self._state_changed()

    def cancel_background(self) -> None:
        """Stop opening, analysis, pruning and export (the status bar's Cancel)."""
        for kind in ("open", "analysis", "apply", "export"):
            self.runner.cancel(kind)
        self.busy.emit("", 0, 0)

    def shutdown(self) -> None:
        """Cancel every job (the tab or window is closing)."""
        self.runner.cancel_all()
