"""One open model file: layer table, spectrum views, prune panel and history.

Opening and the first analysis run in a worker process (one per opening tab, borrowed from the
app's pool; ``rmt_gui.jobs.analysis_job.open_job``): the file is read, unpickled if trusted, and
analysed there, and the model comes back as data, rebuilt here. A worker that fails, crashes,
is killed or runs out of memory leaves this tab with a one-line error naming the file; other
tabs never notice. Previews, pruning and the analysis of pruned states (small work on models
already here) run in threads (see :mod:`rmt_gui.ui.workers`). Results go into the
:class:`~rmt_gui.state.document.Document`, whose events every part of the view subscribes to.
Evaluation, sweeps and export live in :class:`rmt_gui.ui.document_tasks.DocumentTasks`.
"""

from __future__ import annotations

import html
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from rmt_gui.errors import RmtGuiError
from rmt_gui.jobs.process_worker import JobSpec
from rmt_gui.state.document import Document, successor_layer
from rmt_gui.state.events import ReportAdded
from rmt_gui.state.file_labels import file_description
from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.state.preview import PreviewRow, plans_to_apply, preview_rows
from rmt_gui.state.settings_schema import ViewSettings
from rmt_gui.state.workspace import Workspace
from rmt_gui.ui import theme
from rmt_gui.ui.data_source import DataSource
from rmt_gui.ui.document_tasks import DocumentTasks
from rmt_gui.ui.history_panel import HistoryPanel
from rmt_gui.ui.layer_filter_bar import LayerFilterBar
from rmt_gui.ui.layer_table import LayerTable
from rmt_gui.ui.lazy_page import LazyPage
from rmt_gui.ui.metric_heatmap import MetricHeatmap
from rmt_gui.ui.multiples_view import MultiplesView
from rmt_gui.ui.prune_panel import PrunePanel
from rmt_gui.ui.spectrum_view import SpectrumView
from rmt_gui.ui.steady_tabs import SteadyTabWidget
from rmt_gui.ui.sweep_view import SweepView
from rmt_gui.ui.workers import Runner, preload

if TYPE_CHECKING:
    from rmt_gui.ui.compress_view import CompressView

PREVIEW_DELAY_MS = 150
BEFORE = "before pruning (as opened)"
OPEN_JOB = ("rmt_gui.jobs.analysis_job", "open_job")


def failure_line(path: Path, message: str) -> str:
    """One line naming the file and what happened (worker deaths do not name it themselves)."""
    return message if path.name in message else f"{path.name}: {message}"


class DocumentView(QWidget):
    """Everything about one file; the main window shows one per tab."""

    opening = Signal(str)
    opened = Signal(Path)
    openFailed = Signal(Path, str)
    trustNeeded = Signal(object)

    def __init__(
        self,
        path: Path,
        options: ViewSettings,
        data: DataSource,
        workspace: Workspace,
        trust: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.path, self.trust, self.workspace = Path(path), trust, workspace
        self.document: Document | None = None
        self.failure = ""
        self.opening_text = ""
        self._seeded: weakref.WeakSet = weakref.WeakSet()
        self.preview = None
        self.preview_rows: tuple[PreviewRow, ...] = ()
        self.runner, self.plot_options = Runner(self), options.plot
        self.header = QLabel(f"Opening <b>{self.path.name}</b>…")
        self.banner = _notice(f"background: {theme.WARNING_BG}; border: 1px solid #e0c060;")
        self.error = _notice(f"color: {theme.ERROR_TEXT}; border: 1px solid {theme.ERROR_TEXT};")
        self.error.setObjectName("openError")
        self.table = LayerTable()
        self.history = HistoryPanel(options.eval_count)
        self.spectrum = SpectrumView(self.plot_options)
        self.spectrum.source = self.path.name
        self.multiples = MultiplesView(self.plot_options)
        self._sweep_options = (options.sweep_points, options.sweep_log)
        self.prune = PrunePanel(options.prune)
        self.views = self._view_tabs()
        self.left = QSplitter(Qt.Orientation.Vertical)
        self.left.addWidget(self._layer_overviews())
        self.left.addWidget(self.history)
        self.left.setSizes([420, 260])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget in (self.left, self.views, self.prune):
            self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([560, 680, 370])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.header)
        layout.addWidget(self.error)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        layout.addStretch()
        self.tasks = DocumentTasks(self, data)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.request_preview)
        self.opening.connect(self._remember_opening)
        self._connect()

    def _view_tabs(self) -> QTabWidget:
        """The plot views of the middle column; the Rank-sweep and Compress views are built
        when first shown or used (:class:`LazyPage`)."""
        views = SteadyTabWidget()
        views.addTab(self.spectrum, "Spectrum")
        views.addTab(self.multiples, "All layers")
        self._sweep_page = LazyPage(self._build_sweep)
        views.addTab(self._sweep_page, "Rank sweep")
        self._compress_page = LazyPage(self._build_compress)
        views.addTab(self._compress_page, "Compress")
        return views

    @property
    def sweep(self) -> SweepView:
        """The Rank-sweep view (built now if it was not)."""
        return cast(SweepView, self._sweep_page.content())

    @property
    def compress(self) -> CompressView:
        """The Compress view (built now if it was not)."""
        return cast("CompressView", self._compress_page.content())

    def _build_sweep(self) -> SweepView:
        """The Rank-sweep view, wired to the tasks and drawing the document's sweep."""
        sweep = SweepView(*self._sweep_options)
        sweep.startRequested.connect(self.tasks.sweep)
        sweep.cancelRequested.connect(lambda: self.runner.cancel("sweep"))
        if self.document is not None:
            sweep.bind(self.document)
        return sweep

    def _build_compress(self) -> CompressView:
        """The Compress view (imported only now: it is the heaviest, and most openings never
        show it)."""
        from rmt_gui.ui.compress_view import CompressView

        return CompressView(self)

    def show_view(self, widget: QWidget) -> None:
        """Bring the middle-column tab holding ``widget`` (a tab's page or what a lazy page
        holds) to the front."""
        page: QWidget | None = widget
        while page is not None and self.views.indexOf(page) < 0:
            page = page.parentWidget()
        if page is not None:
            self.views.setCurrentWidget(page)

    def sweep_options(self) -> tuple[int, bool]:
        """The Rank-sweep view's rank count and log axis (as opened, if it was never built)."""
        if not self._sweep_page.built:
            return self._sweep_options
        return self.sweep.points.value(), self.sweep.log

    def _layer_overviews(self) -> QWidget:
        """The filter bar above the table (returned, for the left column) and the heat-map
        tab beside "All layers"."""
        self.filter_bar = LayerFilterBar(self.table)
        self.heatmap = MetricHeatmap()
        self.views.insertTab(2, self.heatmap, "Heat map")
        layers = QWidget()
        column = QVBoxLayout(layers)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.filter_bar)
        column.addWidget(self.table, 1)
        return layers

    def _connect(self) -> None:
        self.table.currentLayerChanged.connect(self.show_layer)
        self.table.layersSelected.connect(self._selection_changed)
        self.multiples.layerClicked.connect(self.table.select_layer)
        self.heatmap.layerClicked.connect(self.open_layer)
        self.spectrum.optionsChanged.connect(self._plot_options_changed)
        self.spectrum.overlayChanged.connect(lambda _i: self.show_layer(self.current_layer()))
        self.spectrum.rankChosen.connect(self.prune.use_rank)
        self.spectrum.save_button.clicked.connect(self.tasks.save_plot)
        self.prune.ruleChanged.connect(self._rule_changed)
        self.prune.applyRequested.connect(self.apply_pruning)
        self.history.undoRequested.connect(self.undo)
        self.history.redoRequested.connect(self.redo)
        self.history.jumpRequested.connect(self.jump)
        self.workspace.document_added.connect(self._peers_changed)
        self.workspace.document_removed.connect(self._peers_changed)
        self.history.evaluateRequested.connect(self.tasks.evaluate)
        self.history.cancelRequested.connect(lambda: self.runner.cancel("evaluate"))

    # -- opening and analysis ---------------------------------------------------------------

    def start(self) -> None:
        """Open the file and analyse it in a worker process (given back once the analysis is done).

        A tab whose file failed to open starts over (the file may have been fixed).
        """
        if self.document is not None:
            return
        preload(OPEN_JOB[0])
        self._show_failure("")
        self.header.setText(f"Opening <b>{self.path.name}</b>…")
        self.opening.emit(f"Opening {self.path.name}…")
        self.runner.start_process(
            "open", JobSpec(*OPEN_JOB, (str(self.path), self.trust)),
            on_item=self._open_item, on_done=self._analysis_done, on_error=self.fail,
            on_cancel=lambda: self.set_busy(""), reuse=not self.trust,
        )  # fmt: skip

    def _remember_opening(self, text: str) -> None:
        """Keep the opening progress line, so the status bar can show it again whenever this
        tab comes back in front (or another line expires) before the file is open."""
        self.opening_text = text

    def open_trusted(self) -> None:
        """Open the file again, now allowed to unpickle it (in the worker only)."""
        self.trust = True
        self.start()

    def fail(self, message: str) -> None:
        """Show why the file could not be opened (or its analysis stopped) in this tab."""
        line = failure_line(self.path, message)
        self.set_busy("")
        if self.document is None:
            self.header.setText(f"Cannot open <b>{self.path.name}</b>")
        self._show_failure(line)
        self.openFailed.emit(self.path, line)

    def _show_failure(self, line: str) -> None:
        """The error line of this tab (``""``: none); a file that never opened shows only it."""
        self.failure = line
        self.error.setText(f"✖ {line}")
        self.error.setToolTip(line)
        self.error.setVisible(bool(line))
        self.splitter.setVisible(not line or self.document is not None)

    def post_status(self, text: str, error: bool = False) -> None:
        """A message of this document for the status bar (shown while its tab is current)."""
        if self.document is not None:
            self.document.post_status(text, error)

    def set_busy(self, text: str, done: int = 0, total: int = 0) -> None:
        """Progress of this document's background work (``""``: none)."""
        if self.document is not None:
            self.document.set_busy(text, done, total)
        elif not text:
            self.opening.emit("")

    def _open_item(self, item) -> None:
        from rmt_gui.jobs.analysis_job import NeedsTrust, OpenedData

        if isinstance(item, NeedsTrust):
            self.set_busy("")
            self.header.setText(f"<b>{self.path.name}</b> holds a pickled object")
            self.trustNeeded.emit(item)
        elif isinstance(item, OpenedData):
            try:
                opened = item.rebuilt()
            except RmtGuiError as exc:
                self.runner.cancel("open")
                self.fail(str(exc))
                return
            self._bind(Document(opened))
        elif self.document is not None:
            self.document.add_report(self.document.original, item)

    def _bind(self, doc: Document) -> None:
        """Show ``doc`` and subscribe to its events (and add it to the workspace)."""
        self.document = doc
        doc.state_changed.connect(self._state_changed)
        doc.report_added.connect(self._report_arrived)
        doc.saved_changed.connect(self._saved_changed)
        self.history.bind(doc)
        if self._sweep_page.built:
            self.sweep.bind(doc)
        self.workspace.add(doc)
        self.opening.emit("")
        self.opened.emit(self.path)
        doc.post_status(f"Opened {self.path}")
        self._state_changed()

    def _report_arrived(self, event: ReportAdded) -> None:
        if not event.current:
            return
        doc, report = self.document, event.report
        analysis = doc.analysis()
        self.table.source.set_report(report)
        self.multiples.update_report(report.name, report)
        self.heatmap.set_reports([info.name for info in analysis.layers], analysis.reports)
        done, total = len(analysis.reports), len(analysis.layers)
        self.set_busy(f"Analysing {doc.name}: {report.name}", done, total)
        if self.current_layer() is None:
            self.table.select_layer(report.name)
        elif report.name == self.current_layer():
            self.show_layer(report.name)

    def _analysis_done(self, announce: bool = True) -> None:
        """Every layer is analysed; the count is announced for the opened file only (a pruned
        state keeps the message of the pruning that made it)."""
        doc = self.document
        if doc is not None:
            self.set_busy("")
            self._set_header()
            if announce:
                doc.post_status(f"{doc.name}: {len(doc.reports())} layers analysed")
            self.request_preview()

    def _saved_changed(self, _dirty: bool) -> None:
        self._set_header()

    def _analyse(self) -> None:
        """Analyse the current state's layers (cached spectra make unchanged layers instant)."""
        from rmt_gui.jobs.analysis_job import analyze_model, layers_of

        doc = self.document
        model = doc.model
        layers = layers_of(model, doc.checkpoint)
        doc.start_analysis(model, layers)
        self.runner.start(
            "analysis", lambda token: analyze_model(model, layers, token),
            on_item=lambda report: doc.add_report(model, report),
            on_done=lambda: self._analysis_done(announce=False),
            on_cancel=lambda: self.set_busy(""),
        )  # fmt: skip

    def _state_changed(self, *_event: object) -> None:
        """The current model changed (opened, pruned, undone): redraw this view's own parts."""
        doc = self.document
        keep = self.current_layer()
        self.preview, self.preview_rows = None, ()
        self.prune.clear_preview("Preview appears once the spectra are ready.")
        if doc.analysis() is None:
            self._analyse()
        analysis = doc.analysis()
        names = [info.name for info in analysis.layers]
        self.table.source.set_layers(list(analysis.layers))
        for report in analysis.reports.values():
            self.table.source.set_report(report)
        self.multiples.set_reports(names, analysis.reports)
        self.heatmap.set_reports(names, analysis.reports)
        target = keep if keep in names else successor_layer(keep, analysis.layers)
        if target:
            self.table.select_layer(target)
        self._set_header()
        self.spectrum.set_overlay_choices(self.overlay_labels())
        if analysis.complete:
            self.request_preview()

    def _peers_changed(self, _document: Document) -> None:
        """A file opened or closed elsewhere: it can (no longer) be overlaid."""
        self.spectrum.set_overlay_choices(self.overlay_labels())

    def _set_header(self) -> None:
        from rmt_gui.model.surgery import parameter_count

        doc = self.document
        analysis = doc.analysis()
        kind = file_description(doc.checkpoint.format, doc.checkpoint.detail)
        self.header.setText(
            f"<b>{doc.name}</b> — {html.escape(kind)} · {len(analysis.layers)} "
            f"layers · {parameter_count(doc.model):,} parameters"
            + (" · <i>modified</i>" if doc.dirty else "")
        )
        self.banner.setText(f"⚠ {doc.not_runnable}. Evaluation and the rank sweep need a "
                            "runnable model.")  # fmt: skip
        self.banner.setVisible(bool(doc.not_runnable))
        self.history.set_note("")

    # -- selection and plots ----------------------------------------------------------------

    def open_layer(self, name: str) -> None:
        """Show layer ``name`` in the Spectrum tab (a click in the heat map)."""
        self.table.select_layer(name)
        self.views.setCurrentWidget(self.spectrum)

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
        others = self.workspace.documents
        return labels + [doc.name for doc in others if doc is not self.document]

    def _overlay_report(self, name: str):
        label = self.spectrum.overlay_box.currentText()
        doc = self.document
        if label == BEFORE and doc is not None:
            return doc.counterpart(name, doc.original)
        peer = self.workspace.find(label)
        if peer is not None and peer is not doc:
            return peer.counterpart(name, peer.model)
        return None

    def show_layer(self, name: str | None) -> None:
        """Draw layer ``name`` of the current state in the spectrum view."""
        doc = self.document
        if doc is None or name is None:
            return
        report = doc.report(name)
        self.spectrum.show_report(report, self._overlay_report(name), self._kept_rank(name))
        self.multiples.select(name)
        self.heatmap.select(name)
        doc.set_focus(name)

    def _kept_rank(self, name: str) -> int | None:
        """Where the manual line starts: the previewed rank of ``name`` (else n_signal)."""
        if self.prune.method == "rank":
            return self.prune.rank.value()
        plans = (row.plan for row in self.preview_rows)
        return next((p.rank for p in plans if p.layer == name and not p.skipped), None)

    def _plot_options_changed(self, options: PlotOptions) -> None:
        self.plot_options = options
        self.multiples.set_options(options)

    # -- pruning and history ----------------------------------------------------------------

    def target_layers(self) -> list[str]:
        """Prunable layers in the prune panel's scope; embeddings, heads and norms only when
        selected (they are not pruned by default)."""
        doc = self.document
        wanted = set(self.table.selected_layers()) if self.prune.selected_only else None
        return [
            r.name for r in doc.reports()
            if r.prunable and (r.name in wanted if wanted is not None else r.info.prunable)
        ]  # fmt: skip

    def request_preview(self) -> None:
        """Plan the panel's rule on the current state in the background."""
        from rmt_gui.jobs.analysis_job import preview_job
        from rmt_gui.model.rule import RuleError

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
        try:
            rule = self.prune.rule()
        except RuleError as exc:
            self.runner.cancel("preview")
            self.prune.clear_preview(f"Cannot preview: {exc}")
            return
        known = self._unseeded_spectra(model)
        self.runner.start(
            "preview", lambda token: preview_job(model, layers, rule, token, known),
            on_item=self._preview_ready,
            on_error=lambda message: self.prune.clear_preview(f"Cannot preview: {message}"),
        )  # fmt: skip
        if self.prune.method == "rank":
            self.spectrum.set_manual_rank(self.prune.rank.value())

    def _unseeded_spectra(self, model) -> dict:
        """The spectra of ``model`` analysed in the worker, for this process's cache (once)."""
        if model in self._seeded:
            return {}
        self._seeded.add(model)
        reports = self.document.reports(model)
        return {r.name: r.analysis.spectrum for r in reports if r.analysis is not None}

    def _preview_ready(self, preview) -> None:
        doc = self.document
        if preview.model is not doc.model:
            return
        self.preview = preview
        self.preview_rows = preview_rows(preview.plans)
        self.prune.show_preview(preview, self.preview_rows)
        keep = {
            row.plan.layer: ("skip" if row.plan.skipped else str(row.rank_after),
                             row.rank_after, row.plan.factorize)
            for row in self.preview_rows
        }  # fmt: skip
        self.table.source.set_keep(keep)
        name = self.current_layer()
        rank = self._kept_rank(name) if name else None
        if rank is not None:
            self.spectrum.set_manual_rank(rank)

    def apply_pruning(self) -> None:
        """Apply the current preview in the background, then push it on the history."""
        from rmt_gui.jobs.analysis_job import apply_job

        doc, preview = self.document, self.preview
        plans = plans_to_apply(self.preview_rows)
        if doc is None or preview is None or preview.model is not doc.model or not plans:
            self.post_status("Nothing to apply yet: wait for the preview.", True)
            return
        description = preview.rule.describe()
        if self.prune.selected_only:
            description += " on " + ", ".join(p.layer for p in plans)
        self.set_busy("Applying pruning…")
        self.prune.apply_button.setEnabled(False)
        self.runner.start(
            "apply", lambda token: apply_job(preview.model, plans, preview.rule, token),
            on_item=lambda applied: self._applied(applied, description),
            on_error=self._apply_failed, on_cancel=lambda: self.set_busy(""),
        )  # fmt: skip

    def _applied(self, applied, description: str) -> None:
        self.set_busy("")
        doc = self.document
        if applied.base is not doc.model:
            self.post_status("The model changed while pruning ran; the result was dropped.", True)
            return
        saved = sum(c.params_before - c.params_after for c in applied.changes)
        doc.post_status(f"{description}: {saved:,} parameters removed")
        doc.apply(description, applied.model, applied.changes)

    def _apply_failed(self, message: str) -> None:
        self.set_busy("")
        self.post_status(f"{self.path.name}: pruning failed: {message}", True)
        self.request_preview()

    def undo(self) -> None:
        if self.document is not None:
            self.document.undo()

    def redo(self) -> None:
        if self.document is not None:
            self.document.redo()

    def jump(self, index: int) -> None:
        """Move to step ``index`` of the history (a click in the list)."""
        if self.document is not None:
            self.document.jump(index)

    def cancel_background(self) -> None:
        """Stop opening, analysis, pruning and export (the status bar's Cancel)."""
        opening = self.document is None and self.runner.running("open")
        for kind in ("open", "analysis", "apply", "export"):
            self.runner.cancel(kind)
        self.set_busy("")
        self.post_status("Cancelled")
        if opening:
            self.fail("opening was cancelled")

    def shutdown(self) -> None:
        """Stop every job and worker process and leave the workspace (the tab is closing)."""
        self.runner.close()
        self.workspace.document_added.disconnect(self._peers_changed)
        self.workspace.document_removed.disconnect(self._peers_changed)
        if self.document is not None:
            self.workspace.remove(self.document)
            self.document.close()


def _notice(style: str) -> QLabel:
    """A hidden, wrapping message line above the views (the error line or the warning banner)."""
    label = QLabel("")
    label.setWordWrap(True)
    label.setStyleSheet(f"{style} padding: 4px;")
    label.hide()
    return label
