"""Every layer's spectrum during training: the explorer's large view plus small multiples.

The reports drawn are the engine's latest snapshot (spectrum and BEMA fit per layer), turned
into the explorer's layer reports in the worker; this widget only picks which run and layer
to show. When a cut factorises a layer the grid is rebuilt with the new weights and the large
view follows the layer to its first factor.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.state.training import RunState
from rmt_gui.ui import theme
from rmt_gui.ui.live_label import LiveLabel
from rmt_gui.ui.multiples_view import LIVE_COLUMNS, MultiplesView
from rmt_gui.ui.prune_panel import show_choice_tip
from rmt_gui.ui.spectrum_items import CUTOFF_NAMES
from rmt_gui.ui.spectrum_view import SpectrumView, save_plot_dialog

START = "at the start of the run"
OTHER = "in the other run"
RUN_TIP = "Whose spectra to show (the running one is chosen for you)"
WAITING = "waiting for the first snapshot…"
PREPARED_CELLS = 4
CELLS_EVERY = 2
"""A live frame of the large view queues one small multiple every this many frames."""


def key_text(scale: str) -> str:
    """The line naming the plots' colours, with the cutoff named for ``scale`` (λ₊ or s₊)."""
    cutoff = CUTOFF_NAMES[scale]
    return f"Histogram blue · MP fit red · BEMA cutoff {cutoff} dashed · signal spikes orange"


class TrainSpectra(QWidget):
    """A run's layers: one large spectrum (chosen layer) above a grid of all of them.

    The large view's legend is left out (it would cover half of a plot this size); the line
    above the plots names the colours instead.
    """

    status = Signal(str, bool)

    def __init__(self, options: PlotOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_box = QComboBox()
        self.layer_box = QComboBox()
        for box in (self.run_box, self.layer_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.layer_box.setMinimumContentsLength(12)
        self.run_box.setMinimumContentsLength(10)
        self.run_box.setToolTip(RUN_TIP)
        self.layer_box.setToolTip("The layer in the large view (or click a small plot)")
        self.step_label = LiveLabel(WAITING)
        self.key_label = LiveLabel(key_text(options.scale))
        for label in (self.step_label, self.key_label):
            label.setColour(theme.HINT_TEXT)
        self.spectrum = SpectrumView(options, live=True)
        self.spectrum.set_overlay_choices([START, OTHER])
        self.spectrum.overlay_box.setMinimumContentsLength(8)
        self.multiples = MultiplesView(options, live=True)
        self.multiples.hint.hide()
        self.multiples.prepare(PREPARED_CELLS)
        self.multiples.place_ahead(LIVE_COLUMNS)
        header = QHBoxLayout()
        for text, box in (("Spectra of", self.run_box), ("layer", self.layer_box)):
            label = QLabel(text)
            label.setBuddy(box)
            header.addWidget(label)
            header.addWidget(box)
        header.addWidget(self.step_label, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.spectrum)
        self.splitter.addWidget(self.multiples)
        self.splitter.setSizes([380, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.key_label)
        layout.addWidget(self.splitter, 1)
        self.runs: list[RunState] = []
        self._turn = self._frames = 0
        self._queue: list[str] = []
        self.multiples.layerClicked.connect(self.select_layer)
        self.layer_box.currentIndexChanged.connect(lambda _i: self.redraw())
        self.run_box.currentIndexChanged.connect(lambda _i: show_choice_tip(self.run_box))
        self.run_box.currentIndexChanged.connect(lambda _i: self.redraw())
        self.spectrum.overlayChanged.connect(lambda _i: self.redraw())
        self.spectrum.optionsChanged.connect(self._options_changed)
        self.spectrum.save_button.clicked.connect(self._save_plot)

    def set_runs(self, runs: list[RunState], follow: RunState | None = None) -> None:
        """The runs to choose from; ``follow`` becomes the shown one."""
        self.runs = list(runs)
        self.run_box.blockSignals(True)
        self.run_box.clear()
        for index, run in enumerate(runs):
            self.run_box.addItem(run.label)
            self.run_box.setItemData(
                index, f"{RUN_TIP}: {run.run_dir}", Qt.ItemDataRole.ToolTipRole
            )
        if follow is not None and follow in self.runs:
            self.run_box.setCurrentIndex(self.runs.index(follow))
        self.run_box.blockSignals(False)
        show_choice_tip(self.run_box)

    @property
    def run(self) -> RunState | None:
        """The run whose spectra are shown."""
        index = self.run_box.currentIndex()
        return self.runs[index] if 0 <= index < len(self.runs) else None

    def current_layer(self) -> str | None:
        return self.layer_box.currentText() or None

    def select_layer(self, name: str) -> None:
        """Show ``name`` in the large view."""
        self.layer_box.setCurrentIndex(max(self.layer_box.findText(name), 0))

    def _sync_layers(self, run: RunState) -> None:
        """Offer the run's current layers, keeping the chosen one (or its successor)."""
        names = run.layer_names()
        if names == [self.layer_box.itemText(i) for i in range(self.layer_box.count())]:
            return
        keep = run.successor(self.current_layer())
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems(names)
        self.layer_box.setCurrentIndex(max(self.layer_box.findText(keep or ""), 0))
        self.layer_box.blockSignals(False)

    def _overlay(self, run: RunState, name: str):
        """The overlay report chosen in the spectrum view's overlay box, if any."""
        choice = self.spectrum.overlay_box.currentText()
        if choice == START:
            return run.reports(first=True).get(run.origin(name))
        if choice == OTHER:
            other = next((r for r in self.runs if r is not run), None)
            return other.reports().get(name) if other is not None else None
        return None

    def redraw(self, full: bool = True) -> int | None:
        """Draw the shown run's latest spectra; returns the step they were taken at.

        ``full`` draws everything now. Otherwise one piece is drawn now and the rest queued
        for :meth:`draw_queued`, one piece per call: the large view, then one small multiple
        (those left blank by a new grid first, else the next in turn, every ``CELLS_EVERY``
        frames: the grid is the context, the large view the live one). When the layers
        changed, the new grid is laid out first and the large view waits for the next call.
        No frame then holds the UI thread (and the GIL the trainer needs) for long.
        """
        run = self.run
        if run is None:
            return None
        self._sync_layers(run)
        names = run.layer_names()
        if full or not names:
            self.multiples.set_reports(names, run.reports())
            self._queue = []
            self._draw_big(run)
        elif tuple(names) != self.multiples.names:
            name = self.current_layer()
            self.multiples.set_reports(names, run.reports(), only=name)
            self._queue = ["big", *(n for n in names if n != name)]
        else:
            self._draw_big(run)
            self._queue = self._queue[1:] if self._queue[:1] == ["big"] else self._queue
            self._frames += 1
            if not self._queue and self._frames % CELLS_EVERY == 0:
                self._turn = (self._turn + 1) % len(names)
                self._queue = [names[self._turn]]
        spectra = run.spectra
        return spectra.step if spectra is not None else None

    @property
    def queued(self) -> bool:
        """Whether pieces of the last frame are still to be drawn."""
        return bool(self._queue)

    def draw_queued(self) -> None:
        """Draw the next queued piece (the large view or one small multiple)."""
        run = self.run
        if run is None or not self._queue:
            self._queue = []
            return
        piece = self._queue.pop(0)
        if piece == "big":
            self._draw_big(run)
            return
        report = run.reports().get(piece)
        if piece in self.multiples.cells and report is not None:
            self.multiples.update_report(piece, report)

    def _draw_big(self, run: RunState) -> None:
        """The chosen layer's spectrum, the framed cell and the snapshot line."""
        name = self.current_layer()
        report = run.reports().get(name) if name else None
        self.spectrum.show_report(report, self._overlay(run, name) if report else None)
        if name and report is None:
            self.spectrum.readout.setText(f"<b>{name}</b>: waiting for its next snapshot…")
        if name:
            self.multiples.select(name)
        overlay = self.spectrum.overlay_report is not None
        grey = f" · grey: {self.spectrum.overlay_box.currentText()}" if overlay else ""
        self.key_label.setText(key_text(self.spectrum.options.scale) + grey)
        spectra = run.spectra
        if spectra is None:
            self.step_label.setText(WAITING)
            return
        final = " (final)" if spectra.final else ""
        self.step_label.setText(f"snapshot at step {spectra.step}{final}, epoch "
                                f"{spectra.epochs_done:.2f}")  # fmt: skip

    def _options_changed(self, options: PlotOptions) -> None:
        self.multiples.set_options(options)
        self.redraw()

    def _save_plot(self) -> None:
        run = self.run
        name = (self.current_layer() or "spectrum").replace(".", "_")
        folder = run.run_dir if run is not None else Path.home()
        outcome = save_plot_dialog(self.spectrum, folder / f"{name}.png")
        if outcome is not None:
            self.status.emit(*outcome)
