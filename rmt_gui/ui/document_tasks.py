"""Evaluation, rank sweeps, exports and plot images of one document, run as jobs.

Evaluation, sweeps and export run in worker processes of the tab (one per kind, kept warm
while the tab is open), the model sent as data (:mod:`rmt_gui.jobs.model_transfer`): a crash
there fails that job only. Results reach the UI thread and go into the document (evaluations,
sweep points, the saved mark, status lines); the views subscribed to it redraw themselves.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from rmt_gui.jobs.process_worker import JobSpec
from rmt_gui.state.file_labels import format_name
from rmt_gui.state.save_folder import suggested_path
from rmt_gui.ui.data_source import DataSource
from rmt_gui.ui.dialogs import ask_export_path, show_error
from rmt_gui.ui.spectrum_view import save_plot_dialog

if TYPE_CHECKING:
    from torch import nn

    from rmt_gui.jobs.evaluation import EvalProgress
    from rmt_gui.jobs.export_job import ExportDone
    from rmt_gui.ui.document_view import DocumentView
    from rmt_gui.ui.report_html import HtmlReportWriter


def model_spec(job: str, model: nn.Module, *args: Any) -> JobSpec:
    """A worker job ``module:function`` of ``rmt_gui.jobs`` run on ``model`` sent as data."""
    from rmt_gui.jobs.model_transfer import model_to_data

    module, function = job.split(":")
    return JobSpec("rmt_gui.jobs.model_transfer", "model_job",
                   (f"rmt_gui.jobs.{module}", function, model_to_data(model), *args))  # fmt: skip


class EvalClock:
    """Wall time of one evaluation as the user waits for it: from the click to the result,
    and how much of it went to starting the worker and loading the test images."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.loaded: float | None = None

    def progress(self, progress: EvalProgress) -> None:
        """Note when the first image count arrives (the data is loaded by then)."""
        if progress.phase == "evaluating" and self.loaded is None:
            self.loaded = time.perf_counter()

    def summary(self) -> str:
        """``6.10 s, of which 5.20 s starting and loading the data``."""
        total = time.perf_counter() - self.start
        waited = (self.loaded or self.start) - self.start
        return f"{total:.2f} s, of which {waited:.2f} s starting and loading the data"


class DocumentTasks(QObject):
    """Long actions on a document's current state; results land in its history and views."""

    def __init__(self, view: DocumentView, data: DataSource) -> None:
        super().__init__(view)
        self.view, self.data = view, data
        self.report_writer: HtmlReportWriter | None = None

    @property
    def runner(self):
        return self.view.runner

    def _runnable(self) -> bool:
        """Whether evaluation can run; otherwise say why where the user looks."""
        doc = self.view.document
        if doc is None:
            return False
        if doc.not_runnable:
            self.view.history.set_note(doc.not_runnable)
            doc.post_status(f"{doc.name}: {doc.not_runnable}", True)
            return False
        return True

    def evaluate(self) -> None:
        """Evaluate the current step on the MNIST test set (asks for the data if missing)."""
        if self._runnable():
            self.data.ensure(self.view, self._evaluate_in)

    def _evaluate_in(self, root: Path) -> None:
        from rmt_gui.jobs.evaluation import EvalProgress

        view = self.view
        doc = view.document
        step = doc.history.current
        label = f"Step {doc.history.cursor} ({step.description})"
        count = view.history.count.value()
        clock = EvalClock()

        def item(result) -> None:
            if isinstance(result, EvalProgress):
                clock.progress(result)
                if result.phase == "loading":
                    view.history.set_phase("loading the MNIST test images…")
                else:
                    view.history.set_progress(result.done, result.total)
                return
            view.history.set_progress(0, 0)
            doc.post_status(
                f"{label}: accuracy {100 * result.accuracy:.2f}%, loss "
                f"{result.loss:.4f} on {result.count:,} test images ({clock.summary()})"
            )
            doc.set_evaluation(step.model, result)

        def failed(message: str) -> None:
            view.history.set_progress(0, 0)
            view.history.set_note(message)
            doc.post_status(f"{doc.name}: evaluation failed: {message}", True)

        def cancelled() -> None:
            view.history.set_progress(0, 0)
            doc.post_status(f"{label}: evaluation cancelled")

        view.history.set_phase("starting the evaluation…")
        self.runner.start_process(
            "evaluate", model_spec("evaluation:evaluate_job", step.model, str(root), count),
            on_item=item, on_error=failed, on_cancel=cancelled,
        )  # fmt: skip

    def sweep(self) -> None:
        """Sweep the selected layer's rank (asks for the data if missing), its tab in front."""
        view = self.view
        view.show_view(view.sweep)
        name = view.current_layer()
        report = view.document.report(name) if view.document and name else None
        if report is None or report.analysis is None or not report.prunable:
            view.sweep.set_message("Select an analysed linear layer first.")
            return
        if self._runnable():
            self.data.ensure(view, lambda root: self._sweep_in(root, report))

    def _sweep_in(self, root: Path, report) -> None:
        from rmt_gui.jobs.sweep import sweep_ranks

        view = self.view
        doc, layer = view.document, report.name
        model = doc.model
        fit = report.analysis.fit
        marks = [fit.n_signal, report.analysis.rank_gavish_donoho]
        ranks = sweep_ranks(fit.p, view.sweep.points.value(), marks, view.sweep.spacing)
        count = view.history.count.value()
        doc.begin_sweep(model, layer, fit.n_signal, len(ranks))
        self.runner.start_process(
            "sweep", model_spec("sweep:rank_sweep", model, layer, ranks, str(root), count),
            on_item=lambda point: doc.add_sweep_point(model, layer, point.rank, point.accuracy),
            on_error=lambda message: doc.end_sweep(model, layer, f"Sweep failed: {message}"),
            on_cancel=lambda: doc.end_sweep(
                model, layer, "Sweep cancelled (points so far are kept)."
            ),
        )  # fmt: skip

    def export_model(self) -> None:
        """Ask for a target and format, then write the current state in the background; the
        status line then gives its size on disk and CPU latency before and after."""
        from rmt_gui.jobs.model_transfer import model_to_data
        from rmt_gui.model.export import default_format, weights_only_warning

        view = self.view
        doc = view.document
        if doc is None:
            return
        suggested = self._suggested(f"{doc.path.stem}-pruned.pt")
        choice = ask_export_path(view, suggested, default_format(doc.model, suggested))
        if choice is None:
            return
        path, fmt = choice
        self._chosen(path)
        model = doc.model
        warning = weights_only_warning(model, path, fmt)
        steps = doc.history.steps[: doc.history.cursor + 1]
        history = [*getattr(doc.checkpoint, "history", []), *(s.description for s in steps)]
        evaluation = steps[-1].evaluation
        metadata = {"source": str(doc.path)}
        if evaluation is not None:
            metadata["evaluation"] = evaluation.to_json()

        def done(result: ExportDone) -> None:
            doc.set_busy("")
            note = f" (warning: {warning})" if warning else ""
            doc.post_status(
                f"Exported {format_name(fmt)} to {result.path}: {result.report.summary()}{note}",
                warning is not None,
            )
            doc.mark_saved(model)

        def failed(message: str) -> None:
            doc.set_busy("")
            doc.post_status(f"Export failed: {message}", True)
            show_error(view, "Export failed", message)

        original = None if model is doc.original else model_to_data(doc.original)
        doc.set_busy(f"Exporting to {path.name} and timing it…")
        self.runner.start_process(
            "export", model_spec("export_job:export_job", model, path, fmt, history, metadata,
                                 original, doc.path),
            on_item=done, on_error=failed, on_cancel=lambda: doc.set_busy(""),
        )  # fmt: skip

    def export_report(self, base: Path | None = None) -> None:
        """Write an HTML page with every layer's plot, plus CSV and JSON tables."""
        from rmt_gui.ui.report_html import HtmlReportWriter

        view = self.view
        doc = view.document
        if doc is None or not doc.analysis().complete:
            view.post_status("The report needs every layer analysed first.", True)
            return
        if base is None:
            suggested = str(self._suggested(f"{doc.path.stem}-report.html"))
            chosen, _ = QFileDialog.getSaveFileName(view, "Export report", suggested,
                                                    "HTML report (*.html)")  # fmt: skip
            if not chosen:
                return
            base = Path(chosen)
            self._chosen(base)
        writer = HtmlReportWriter(doc, base, view.plot_options)
        writer.progress.connect(lambda done, total: doc.set_busy("Rendering report…", done, total))
        writer.finished.connect(self._report_written)
        self.report_writer = writer
        writer.start()

    def _report_written(self, paths: list[Path]) -> None:
        self.view.set_busy("")
        self.view.post_status("Report written: " + ", ".join(str(p) for p in paths))
        self.report_writer = None

    def save_plot(self) -> None:
        """Save the spectrum plot as PNG or SVG."""
        view = self.view
        name = (view.current_layer() or "spectrum").replace(".", "_")
        outcome = save_plot_dialog(view.spectrum, self._suggested(f"{view.path.stem}-{name}.png"))
        if outcome is not None:
            view.post_status(*outcome)

    def _suggested(self, name: str) -> Path:
        """``name`` in the folder the user last saved to (never inside the installation)."""
        return suggested_path(self.data.settings.save_folder(), self.view.path, name)

    def _chosen(self, path: Path) -> None:
        """The user picked ``path`` in a save dialog: the next one opens in its folder."""
        self.data.settings.set_save_folder(path.parent)
