"""Evaluation, rank sweeps, exports and plot images of one document, run as jobs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from rmt_gui.ui.data_source import DataSource
from rmt_gui.ui.dialogs import ask_export_path, show_error
from rmt_gui.ui.spectrum_view import save_plot_dialog

if TYPE_CHECKING:
    from rmt_gui.ui.document_view import DocumentView
    from rmt_gui.ui.report_html import HtmlReportWriter


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
            self.view.status.emit(f"{doc.name}: {doc.not_runnable}", True)
            return False
        return True

    def evaluate(self) -> None:
        """Evaluate the current step on the MNIST test set (asks for the data if missing)."""
        if self._runnable():
            self.data.ensure(self.view, self._evaluate_in)

    def _evaluate_in(self, root: Path) -> None:
        from rmt_gui.jobs.evaluation import EvalProgress, evaluate_job

        view = self.view
        step = view.document.history.current
        count = view.history.count.value()

        def item(result) -> None:
            if isinstance(result, EvalProgress):
                view.history.set_progress(result.done, result.total)
                return
            step.evaluation = result
            view.history.set_progress(0, 0)
            view._refresh_history()
            view.status.emit(
                f"{step.description}: accuracy {100 * result.accuracy:.2f}%, loss "
                f"{result.loss:.4f} on {result.count:,} test images ({result.seconds:.2f} s)",
                False,
            )
            self.layer_selected(view.current_layer(), None)

        def failed(message: str) -> None:
            view.history.set_progress(0, 0)
            view.history.set_note(message)
            view.status.emit(f"{view.path.name}: evaluation failed: {message}", True)

        view.history.set_progress(0, count)
        self.runner.start(
            "evaluate", lambda token: evaluate_job(step.model, root, count, token),
            on_item=item, on_error=failed, on_cancel=lambda: view.history.set_progress(0, 0),
        )  # fmt: skip

    def layer_selected(self, name: str | None, report) -> None:
        """Keep the sweep tab's title and reference line in step with the selection."""
        view = self.view
        doc = view.document
        if doc is None or name is None:
            return
        if not view.runner.running("sweep"):
            view.sweep.title.setText(f"Layer <b>{name}</b>: press Run sweep")
        evaluation = doc.history.current.evaluation
        view.sweep.set_full(evaluation.accuracy if evaluation is not None else None)

    def sweep(self) -> None:
        """Sweep the selected layer's rank (asks for the data if missing)."""
        view = self.view
        name = view.current_layer()
        report = view.document.report(name) if view.document and name else None
        if report is None or report.analysis is None or not report.prunable:
            view.sweep.set_message("Select an analysed linear layer first.")
            return
        if self._runnable():
            self.data.ensure(view, lambda root: self._sweep_in(root, report))

    def _sweep_in(self, root: Path, report) -> None:
        from rmt_gui.jobs.sweep import rank_sweep, sweep_ranks

        view = self.view
        model = view.document.model
        fit = report.analysis.fit
        marks = [fit.n_signal, report.analysis.rank_gavish_donoho]
        ranks = sweep_ranks(fit.p, view.sweep.points.value(), marks, view.sweep.spacing)
        count = view.history.count.value()
        view.sweep.begin(report.name, fit.n_signal, len(ranks))
        self.runner.start(
            "sweep", lambda token: rank_sweep(model, report.name, ranks, root, count, token),
            on_item=view.sweep.add_point,
            on_error=lambda message: view.sweep.set_message(f"Sweep failed: {message}"),
            on_cancel=lambda: view.sweep.set_message("Sweep cancelled (points so far are kept)."),
        )  # fmt: skip

    def export_model(self) -> None:
        """Ask for a target and format, then write the current state in the background."""
        from rmt_gui.jobs.export_job import export_job

        view = self.view
        doc = view.document
        if doc is None:
            return
        suggested = doc.path.with_name(f"{doc.path.stem}-pruned.pt")
        choice = ask_export_path(view, suggested)
        if choice is None:
            return
        path, fmt = choice
        model = doc.model
        steps = doc.history.steps[: doc.history.cursor + 1]
        history = [*getattr(doc.checkpoint, "history", []), *(s.description for s in steps)]
        evaluation = steps[-1].evaluation
        metadata = {"source": str(doc.path)}
        if evaluation is not None:
            metadata["evaluation"] = evaluation.to_json()

        def done(written: Path) -> None:
            view.busy.emit("", 0, 0)
            if doc.model is model:
                doc.mark_saved()
            view.status.emit(f"Exported {fmt} to {written}", False)
            view.changed.emit()

        def failed(message: str) -> None:
            view.busy.emit("", 0, 0)
            view.status.emit(f"Export failed: {message}", True)
            show_error(view, "Export failed", message)

        view.busy.emit(f"Exporting to {path.name}…", 0, 0)
        self.runner.start(
            "export", lambda token: export_job(model, path, fmt, history, metadata, token),
            on_item=done, on_error=failed, on_cancel=lambda: view.busy.emit("", 0, 0),
        )  # fmt: skip

    def export_report(self, base: Path | None = None) -> None:
        """Write an HTML page with every layer's plot, plus CSV and JSON tables."""
        from rmt_gui.ui.report_html import HtmlReportWriter

        view = self.view
        doc = view.document
        if doc is None or not doc.analysis().complete:
            view.status.emit("The report needs every layer analysed first.", True)
            return
        if base is None:
            suggested = str(doc.path.with_name(f"{doc.path.stem}-report.html"))
            chosen, _ = QFileDialog.getSaveFileName(view, "Export report", suggested,
                                                    "HTML report (*.html)")  # fmt: skip
            if not chosen:
                return
            base = Path(chosen)
        writer = HtmlReportWriter(doc, base, view.plot_options)
        writer.progress.connect(
            lambda done, total: view.busy.emit("Rendering report…", done, total)
        )
        writer.finished.connect(self._report_written)
        self.report_writer = writer
        writer.start()

    def _report_written(self, paths: list[Path]) -> None:
        self.view.busy.emit("", 0, 0)
        self.view.status.emit("Report written: " + ", ".join(str(p) for p in paths), False)
        self.report_writer = None

    def save_plot(self) -> None:
        """Save the spectrum plot as PNG or SVG."""
        view = self.view
        name = (view.current_layer() or "spectrum").replace(".", "_")
        outcome = save_plot_dialog(view.spectrum, view.path.with_name(f"{name}.png"))
        if outcome is not None:
            view.status.emit(*outcome)
