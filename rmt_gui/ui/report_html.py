"""The HTML report: tables plus one spectrum figure per layer, rendered a layer per timer tick.

Plots can only be drawn on the UI thread, so the writer renders one layer per event-loop turn
(the window stays responsive) and writes the page, the CSV and the JSON at the end.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QTimer, Signal

from rmt_gui.state.document import Document
from rmt_gui.state.file_labels import file_description
from rmt_gui.state.plot_data import PlotOptions, plot_data
from rmt_gui.state.report import history_rows, layer_rows, write_reports
from rmt_gui.ui import theme
from rmt_gui.ui.spectrum_items import SpectrumItems
from rmt_gui.ui.spectrum_view import AXIS_LABELS, readout_html
from rmt_gui.ui.view_box import plot_widget

FIGURE_SIZE = (900, 420)
HISTORY_COLUMNS = {"step": "Step", "description": "What was done", "params": "Parameters",
                   "accuracy": "Test accuracy", "loss": "Loss"}  # fmt: skip
LAYER_COLUMNS = {
    "name": "Layer", "shape": "Shape", "params": "Parameters", "rank": "Rank",
    "n_signal": "n_signal (BEMA)", "sigma2": "σ²", "lambda_plus": "λ₊", "fit_error": "Fit error",
    "good_fit": "Good fit", "rank_gavish_donoho": "Gavish–Donoho rank",
}  # fmt: skip
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1.5em 0; } figcaption { font-size: 0.9em; color: #444; }
.poor { color: #c83c28; } .good { color: #2e8b57; }
"""


def _table(rows: list[dict], columns: dict[str, str]) -> str:
    """An HTML table of ``rows`` with ``columns`` (record key: header shown)."""
    head = "".join(f"<th>{html.escape(title)}</th>" for title in columns.values())
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: object) -> str:
    """A value as a table cell reads it: 4 significant digits, thousands separated, yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return "×".join(str(v) for v in value)
    return "" if value is None else str(value)


def _evaluation_cells(evaluation: dict | None) -> dict[str, str]:
    """A step's test accuracy (in %) and loss as the history table shows them (``—``: none)."""
    if evaluation is None:
        return {"accuracy": "—", "loss": "—"}
    return {
        "accuracy": f"{100 * evaluation['accuracy']:.2f}% ({evaluation['count']:,} images)",
        "loss": f"{evaluation['loss']:.4f}",
    }


class HtmlReportWriter(QObject):
    """Renders each layer's spectrum to PNG, then writes ``base.html``, ``.csv``, ``.json``."""

    progress = Signal(int, int)
    finished = Signal(list)

    def __init__(self, document: Document, base: Path, options: PlotOptions) -> None:
        super().__init__()
        self.document, self.base, self.options = document, base, options
        self.reports = document.reports()
        self.figures: list[str] = []
        self.canvas = plot_widget(enableMenu=False, axisItems=theme.value_axes())
        self.canvas.resize(*FIGURE_SIZE)
        self.plot = self.canvas.getPlotItem()
        theme.style_plot(self.plot)
        self.plot.setLabel("bottom", AXIS_LABELS[options.scale])
        self.plot.getAxis("bottom").setLogMode(options.log)
        self.items = SpectrumItems(self.plot)
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._step)

    def start(self) -> None:
        """Begin rendering (returns at once)."""
        self._timer.start()

    def _step(self) -> None:
        index = len(self.figures)
        if index >= len(self.reports):
            self._timer.stop()
            self.finished.emit(self._write())
            return
        report = self.reports[index]
        self.items.update(plot_data(report, self.options))
        self.figures.append(self._png(report))
        self.progress.emit(index + 1, len(self.reports))

    def _png(self, report) -> str:
        """The current plot as a base64 PNG figure with its caption."""
        from pyqtgraph import exporters

        image = exporters.ImageExporter(self.plot)
        image.parameters()["width"] = FIGURE_SIZE[0]
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.export(toBytes=True).save(buffer, "PNG")
        encoded = base64.b64encode(bytes(data)).decode("ascii")
        return (
            f"<figure><img alt='{html.escape(report.name)}' src='data:image/png;base64,{encoded}'>"
            f"<figcaption>{readout_html(report)}</figcaption></figure>"
        )

    def _write(self) -> list[Path]:
        """Write the page and the tables; returns every path written."""
        doc = self.document
        written = write_reports(doc, self.base)
        layers = layer_rows(doc)
        history = [{**row, **_evaluation_cells(row["evaluation"])} for row in history_rows(doc)]
        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(doc.name)}"
            f" — rmt-gui report</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(doc.name)}</h1><p>{html.escape(str(doc.path))} · "
            f"{html.escape(file_description(doc.checkpoint.format, doc.checkpoint.detail))}</p>"
            f"<h2>History</h2>{_table(history, HISTORY_COLUMNS)}"
            f"<h2>Layers</h2>{_table(layers, LAYER_COLUMNS)}"
            f"<h2>Spectra</h2>{''.join(self.figures)}</body></html>"
        )
        page_path = self.base.with_suffix(".html")
        page_path.write_text(page, encoding="utf-8")
        self.canvas.deleteLater()
        return [page_path, *written]
