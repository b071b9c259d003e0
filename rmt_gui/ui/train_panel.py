"""The Train tab: set up a run, start, pause, resume, stop, and watch it live.

Processes: the engine runs in a worker process of its own (a :class:`ProcessRunner` over
``rmt_gui.jobs.process_worker``; one child, reused from run to run), which also computes the
spectrum snapshots, so this process only draws. Nothing live crosses: a start model goes as
bytes of this project's format, a resume point as its checkpoint's path. The events reach this
widget in batches, polled on the UI thread without blocking, and only update
:class:`TrainingSession`; a 20 Hz timer draws whatever changed, so the redraw rate never
follows the step rate, and the start and end of a run are drawn at once. Spectra (the costly
part) are drawn at most every ``SPECTRA_MS`` and the accuracy plot after each epoch, each in a
tick of its own; the loss curves and the progress at most every ``CURVES_MS``. Pause and
stop set the engine's :class:`PauseGate` and :class:`CancelToken` (shared-memory flags)
from the UI thread; a stopped run still saves ``cancelled.pt``, and a worker that does not stop
is ended by force. A crashed or killed worker fails the run with one line. Trained models open
as tabs once the session is over, one every ``OPEN_GAP_MS`` (building a tab takes ~100 ms; the
window repaints in between).
**Resume run…** goes on with a stopped or killed run folder from its last checkpoint (and with
its unfinished baseline after it), drawn live from the step it stopped at.

While a session runs, the app's full garbage collections are held back (see
:mod:`rmt_gui.ui.collector`): one walks every live object holding the GIL, which would stall
the UI.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.errors import RmtGuiError
from rmt_gui.jobs.config import TrainConfig
from rmt_gui.jobs.control import PauseGate
from rmt_gui.jobs.events import Paused, PruneEvent, Resumed, RunEnded, RunStarted
from rmt_gui.jobs.process_worker import JobSpec, ProcessWorker
from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.state.settings_schema import TrainSettings
from rmt_gui.state.training import RunState, TrainingSession, baseline_dir, new_run_dir
from rmt_gui.ui import theme
from rmt_gui.ui.collector import hold_full_collections
from rmt_gui.ui.data_source import DataSource
from rmt_gui.ui.dialogs import show_error
from rmt_gui.ui.live_label import LiveLabel, deferred_paint
from rmt_gui.ui.settings import AppSettings
from rmt_gui.ui.steady_tabs import SteadyTabWidget
from rmt_gui.ui.train_curves import TrainCurves
from rmt_gui.ui.train_log import ComparisonTable, PruningLog
from rmt_gui.ui.train_options import TrainOptions
from rmt_gui.ui.train_spectra import TrainSpectra
from rmt_gui.ui.workers import ProcessRunner, Runner

REDRAW_MS = 50
SPECTRA_MS = 200
CURVES_MS = 100
"""The loss curves and the progress are redrawn at most this often (the ticks between them
draw the spectra and their queued pieces)."""
PACED = frozenset({"curves", "progress"})
UI_SHARE = 0.3
SHARE_WINDOW_S = 1.0
MAX_WAIT_S = 0.5
OPEN_GAP_MS = 60
ALL_PARTS = frozenset({"curves", "accuracy", "spectra", "log", "progress", "status", "table"})
ALONE = frozenset({"accuracy", "spectra"})
"""Parts a live frame draws by themselves (each is one of the dearest frames)."""
START_PARTS = frozenset({"progress", "status"})
EVENT_MODULE = "rmt_gui.jobs.analysis_job"
"""Where the layer reports in the worker's events are defined (unpickling them imports it)."""
Queued = tuple[RunState, TrainConfig, bytes | None, Any]
"""A run waiting its turn: its state, config, start model (as bytes) and resume point (either may
be None)."""


def import_event_module(_token: object) -> Iterator[str]:
    """Import :data:`EVENT_MODULE` (and torch) off the UI thread, before the first spectra."""
    yield importlib.import_module(EVENT_MODULE).__name__


def run_label(pruned: bool, comparison: bool = False) -> str:
    """A run's name in the curves, log and table: pruned, unpruned, or the comparison's baseline."""
    if pruned:
        return "RMT-pruned"
    return "baseline (no pruning)" if comparison else "no pruning"


def ended_text(run: RunState) -> str:
    """How a run ended for the status bar: ``RMT-pruned cancelled at epoch 1.37, 95.12%``
    (the accuracy of the model it saved, when it was tested)."""
    ended = run.ended
    if ended is None:
        return f"{run.label} {run.status}"
    accuracy = f", {100 * ended.test_accuracy:.2f}%" if ended.test_accuracy is not None else ""
    return f"{run.label} {ended.status} at epoch {ended.epochs_done:.2f}{accuracy}"


def due(since: float, period_ms: int) -> bool:
    """Whether ``period_ms`` has passed since the monotonic time ``since`` (half a redraw tick
    early counts: the timer's jitter would otherwise skip a whole tick)."""
    return time.monotonic() - since >= (period_ms - REDRAW_MS / 2) / 1000


def app_threads() -> int:
    """Torch threads for a run in the app: all cores but one, kept for the UI."""
    return max(1, (os.cpu_count() or 2) - 1)


class TrainPanel(QWidget):
    """Settings on the left; curves, spectra, the pruning log and the comparison on the right."""

    status = Signal(str, bool)
    modelFinished = Signal(Path)
    stateChanged = Signal()
    frameDrawn = Signal(int)
    in_process = True
    """Train in a worker process (else in a thread of this one: tests that patch the engine)."""

    def __init__(
        self,
        settings: AppSettings,
        data: DataSource,
        models: Callable[[], list[tuple[str, Any]]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings, self.data, self._models = settings, data, models
        worker = ProcessWorker(app_threads(), in_process=self.in_process)
        self.runner = ProcessRunner(worker, self)
        self._imports = Runner(self)
        self.session = TrainingSession()
        self.pause_gate: PauseGate | None = None
        self._queue: list[Queued] = []
        self._active: RunState | None = None
        self._spectra_at = self._curves_at = self._drawn_at = 0.0
        self._spectra_last = False
        self._holding = False
        self._cpu: deque[tuple[float, float]] = deque()
        self.form = TrainOptions(settings.train())
        self.form.dataFolderRequested.connect(self._choose_data)
        self.curves = TrainCurves()
        self.spectra = TrainSpectra(PlotOptions(settings.view().plot.scale, True))
        self.spectra.status.connect(self.status.emit)
        self.log = PruningLog()
        self.table = ComparisonTable()
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self._tick)
        self._update_buttons()

    def _build(self) -> None:
        self.start_button = QPushButton("Start training")
        self.start_button.setToolTip("Train with these settings (F5)")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause or resume at the next step (F6)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop and keep the partial model (Shift+F5)")
        self.defaults_button = QPushButton("Paper defaults")
        self.defaults_button.setToolTip("784-1000-10, SGD 0.08/0.9, batch 128, cut every epoch")
        self.resume_button = QPushButton("Resume run…")
        self.resume_button.setToolTip("Go on with a stopped or killed run from its last checkpoint")
        self.start_button.clicked.connect(self.start)
        self.resume_button.clicked.connect(self.choose_resume)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.defaults_button.clicked.connect(self.form.reset)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.state_label = LiveLabel("Set up a run, then press Start training.", lines=2)
        self.folder_label = QLabel("")
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label.setStyleSheet("color: #555;")
        self._build_layout()

    def _build_layout(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(scroll, 1)
        column.addWidget(self.form.output)
        extra = QHBoxLayout()
        extra.addWidget(self.defaults_button)
        extra.addWidget(self.resume_button)
        column.addLayout(extra)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addWidget(self.state_label)
        column.addWidget(self.folder_label)
        self.bottom = SteadyTabWidget()
        self.bottom.addTab(self.log, "Pruning log")
        self.bottom.addTab(self.table, "Comparison")
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.curves)
        top.addWidget(self.spectra)
        top.setSizes([420, 660])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(self.bottom)
        right.setSizes([650, 200])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([400, 1100])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)

    # -- state ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a run (or a queued baseline) is in progress."""
        return self._active is not None

    def refresh_models(self) -> None:
        """Offer the open runnable MLPs as starting points (called when tabs change)."""
        offered = []
        models = self._models()
        if models:
            from rmt_gui.jobs.training_job import mlp_dims

            offered = [(title, m, dims) for title, m in models if (dims := mlp_dims(m))]
        self.form.set_models(offered)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.form.set_data_folder(self.data.root())
        if not self.running:
            self.refresh_models()
        self._draw(ALL_PARTS)

    def _choose_data(self) -> None:
        self.data.choose(self)
        self.form.set_data_folder(self.data.root())

    def _update_buttons(self) -> None:
        run = self._active
        stopping = run is not None and run.status == "stopping"
        self.start_button.setEnabled(run is None)
        self.pause_button.setEnabled(run is not None and not stopping)
        self.stop_button.setEnabled(run is not None and not stopping)
        paused = self.pause_gate is not None and self.pause_gate.paused
        self.pause_button.setText("Resume" if paused and run is not None else "Pause")
        self.form.setEnabled(run is None)
        self.form.output.setEnabled(run is None)
        self.defaults_button.setEnabled(run is None)
        self.resume_button.setEnabled(run is None)
        self.stateChanged.emit()

    # -- commands ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start a run with the form's settings (asks for MNIST first if it is missing)."""
        if not self.running:
            self.data.ensure(self, self._start_in)

    def _start_in(self, root: Path) -> None:
        form = self.form
        try:
            config = form.config(root, app_threads())
            run_dir = new_run_dir(form.output_root())
        except RmtGuiError as exc:
            self._say(f"Cannot start: {exc}", True)
            return
        self.settings.set_train(form.options())
        model = self._start_bytes(form.start_model())
        self.session = TrainingSession()
        label = run_label(config.prune is not None)
        queue = [(self.session.add_run(label, run_dir), config, model, None)]
        if config.prune is not None and form.compare.isChecked():
            baseline = self.session.add_run(run_label(False, True), baseline_dir(run_dir), True)
            queue.append((baseline, dataclasses.replace(config, prune=None), model, None))
        self._begin(queue, config.epochs, run_dir)
        self._next_run()

    @staticmethod
    def _start_bytes(model: Any) -> bytes | None:
        """The chosen start model as bytes for the worker process (``None``: a new network)."""
        if model is None:
            return None
        from rmt_gui.jobs.training_job import model_bytes

        return model_bytes(model)

    def choose_resume(self) -> None:
        """Pick a run folder and go on with it (see :meth:`resume`)."""
        if self.running:
            return
        root = str(self.form.output_root())
        folder = QFileDialog.getExistingDirectory(self, "Resume a training run", root)
        if folder:
            self.resume(Path(folder))

    def resume(self, run_dir: Path) -> None:
        """Go on with the run in ``run_dir`` from its last checkpoint, live as a new run (asks
        for MNIST first if it is missing)."""
        if not self.running:
            self.data.ensure(self, partial(self._resume_in, run_dir))

    def _resume_in(self, run_dir: Path, root: Path) -> None:
        """Resume ``run_dir`` and then its unfinished baseline, if it has one (either alone
        when the other cannot go on)."""
        from rmt_gui.jobs.resume import find_resume_point

        sibling = baseline_dir(run_dir)
        points, problems = [], []
        for folder in (run_dir, sibling) if sibling.is_dir() else (run_dir,):
            try:
                points.append((folder, find_resume_point(folder)))
            except RmtGuiError as exc:
                problems.append(exc)
        if not points:
            self._say(f"Cannot resume: {problems[0]}", True)
            show_error(self, "Cannot resume", f"Cannot resume: {problems[0]}")
            return
        self.session = TrainingSession()
        queue = [self._resumed(folder, point, root) for folder, point in points]
        self._begin(queue, points[0][1].state.config.epochs, run_dir)
        for problem in problems:
            self.log.add_note(f"not resumed: {problem}")
        for (run, *_), (_, point) in zip(queue, points, strict=True):
            for note in point.notes:
                self.log.add_note(note)
            self.log.add_note(f"{run.label}: resuming from {point.path} at step {point.state.step}")
        self._next_run()

    def _resumed(self, run_dir: Path, point: Any, root: Path) -> Queued:
        """A queue entry going on with ``point`` (this app's threads, the data in ``root``)."""
        config = dataclasses.replace(point.state.config, threads=app_threads(), data_root=str(root))
        baseline = config.prune is None
        label = run_label(not baseline, run_dir.name.endswith("-baseline"))
        return self.session.add_run(label, run_dir, baseline), config, None, point

    def _begin(self, queue: list[Queued], epochs: int, run_dir: Path) -> None:
        """Set up a session of queued runs and clear the views (:meth:`_next_run` starts it)."""
        self._queue = queue
        self._hold_collections(True)
        self.curves.reset(epochs)
        self.log.clear_log()
        self.table.set_rows([])
        self.bottom.setCurrentWidget(self.log)
        self.folder_label.setText(f"Run folder: {run_dir}")

    def _next_run(self) -> None:
        """Start the next queued run in the worker, or finish the session."""
        if not self._queue:
            self._finish()
            return
        run, config, model, resume = self._queue.pop(0)
        self._active = run
        where = str(resume.path) if resume is not None else None
        args = (config, str(run.run_dir), self.form.snapshot_policy(), model, where)
        self.spectra.set_runs(self.session.runs, follow=run)
        if EVENT_MODULE not in sys.modules:
            self._imports.start("import", import_event_module)
        self.runner.start(
            JobSpec("rmt_gui.jobs.training_job", "training_process", args),
            on_item=lambda events: self._received(run, events), on_done=self._run_done,
            on_error=lambda message: self._run_failed(run, message), on_cancel=self._run_done,
        )  # fmt: skip
        self.pause_gate = self.runner.pause_gate
        self._cpu.clear()
        self.timer.start()
        self._say(f"Training {run.label} → {run.run_dir}", False)
        self._update_buttons()
        self._draw({"progress", "status"})

    def toggle_pause(self) -> None:
        """Pause at the next step boundary, or resume."""
        run, gate = self._active, self.pause_gate
        if run is None or gate is None or run.status == "stopping":
            return
        if gate.paused:
            gate.resume()
            self._say(f"{run.label}: resumed", False)
        else:
            gate.pause()
            run.status = "pausing"
        self.session.mark("status")
        self._update_buttons()
        self._draw({"status"})

    def stop(self) -> None:
        """Stop at the next step boundary (the engine saves ``cancelled.pt``); no baseline."""
        run = self._active
        if run is None:
            return
        self._drop_queue()
        self.runner.cancel()
        run.status = "stopping"
        self.session.mark("status")
        self._update_buttons()
        self._draw({"status"})

    def _drop_queue(self) -> None:
        """Forget the runs still waiting their turn (a stop or a failure ends the session):
        they leave the session too, so the views end on the run that really ran."""
        for run, *_ in self._queue:
            self.session.runs.remove(run)
        self._queue.clear()
        self.session.mark("status", "table")

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """Stop the run and its worker process (the run gets ``timeout_s`` to end by itself,
        then the worker is killed); late events are dropped."""
        self._drop_queue()
        self.timer.stop()
        finished = self.runner.close(timeout_s)
        self._active = None
        self._hold_collections(False)
        return finished

    # -- events from the worker -------------------------------------------------------------

    def _received(self, run: RunState, events: tuple[Any, ...]) -> None:
        """Record a batch; log starts, cuts and ends; draw the end, and the start or a pause
        (not the spectra: the next frame does), at once."""
        self.session.apply(run, events)
        for event in events:
            if isinstance(event, PruneEvent):
                self.log.add_cut(run.label, event)
            elif isinstance(event, RunStarted | RunEnded):
                self.log.add_note(run.describe(event))
        if any(isinstance(event, RunEnded) for event in events):
            self._draw(ALL_PARTS)
        elif any(isinstance(event, RunStarted | Paused | Resumed) for event in events):
            self._cpu.clear()
            self._draw(START_PARTS)

    def _hold_collections(self, hold: bool) -> None:
        """Hold full garbage collections for the session (once, however it ends)."""
        if hold != self._holding:
            self._holding = hold
            hold_full_collections(hold)

    def _run_done(self) -> None:
        """The worker is done with a run: the baseline next, unless stopped."""
        run = self._active
        if run is not None and run.status != "finished":
            self._drop_queue()
        self._next_run()

    def _run_failed(self, run: RunState, message: str) -> None:
        run.fail(message)
        self.session.mark(*ALL_PARTS)
        self._drop_queue()
        self._say(f"Training failed: {message}", True)
        show_error(self, "Training failed", f"Training failed: {message}")
        self._finish()

    def _finish(self) -> None:
        """No run left: draw the final state, fill in the comparison, free the buttons."""
        self._active = None
        self._hold_collections(False)
        self.timer.stop()
        runs = self.session.runs
        if runs:
            self.spectra.set_runs(runs, follow=runs[0])
        self._draw(ALL_PARTS)
        models = [Path(r.ended.model_path) for r in runs if r.ended and r.ended.model_path]
        for index, path in enumerate(models, start=1):
            QTimer.singleShot(index * OPEN_GAP_MS, self, partial(self.modelFinished.emit, path))
        if len(self.session.comparison()) > 1:
            self.bottom.setCurrentWidget(self.table)
        runs = self.session.runs
        if runs and not runs[-1].error:
            summary = "; ".join(ended_text(r) for r in runs)
            self._say(f"Training over: {summary}", False)
        self._update_buttons()

    # -- drawing ----------------------------------------------------------------------------

    def _over_budget(self) -> bool:
        """Whether the UI thread used more than ``UI_SHARE`` of a core lately (CPU clock).

        Training has a process of its own, but on a machine with few cores the UI's drawing
        still takes CPU time from it; skipping frames while over budget keeps it at full pace.
        """
        now, cpu = time.monotonic(), time.thread_time()
        samples = self._cpu
        samples.append((now, cpu))
        while now - samples[0][0] > SHARE_WINDOW_S:
            samples.popleft()
        then, used = samples[0]
        return now - then > SHARE_WINDOW_S / 2 and (cpu - used) / (now - then) > UI_SHARE

    def _tick(self) -> None:
        """The redraw timer: draw what changed (only while visible, and within the UI budget
        unless nothing was drawn for ``MAX_WAIT_S``). The accuracy plot (after an epoch) and
        the spectra each take a tick of their own, so no frame pays for two of the dearest
        parts; the pieces of a spectra frame left queued are drawn first, one per tick."""
        if not self.isVisible():
            return
        if self.spectra.queued:
            self.spectra.draw_queued()
            return
        waited = time.monotonic() - self._drawn_at > MAX_WAIT_S
        if self._over_budget() and not waited:
            return
        parts = self.session.take_changes()
        alone = self._alone(parts)
        drawn = {alone} if alone is not None else parts - ALONE
        if alone is None and not due(self._curves_at, CURVES_MS):
            drawn -= PACED
        self.session.mark(*(parts - drawn))
        self._draw(drawn)
        self._spectra_last = alone == "spectra"

    def _alone(self, parts: set[str]) -> str | None:
        """The part this tick draws by itself, if any: the accuracy plot at once (once an
        epoch), the spectra when ``SPECTRA_MS`` passed and the last frame was not spectra
        (or nothing else changed)."""
        if "accuracy" in parts:
            return "accuracy"
        ready = due(self._spectra_at, SPECTRA_MS) and not self._spectra_last
        if "spectra" in parts and (ready or not parts - ALONE):
            return "spectra"
        return None

    def _draw(self, parts: set[str] | frozenset[str]) -> None:
        """Draw ``parts`` now (``ALL_PARTS`` also forgets the changes noted so far) and count
        the frame."""
        if parts is ALL_PARTS:
            self.session.take_changes()
        elif parts is START_PARTS:
            self.session.mark(*(self.session.take_changes() - START_PARTS))
        if not parts:
            return
        runs = self.session.runs
        if parts & PACED:
            self._curves_at = time.monotonic()
        if "curves" in parts:
            self.curves.show_loss(runs)
        if "accuracy" in parts:
            self.curves.show_accuracy(runs)
        step = None
        if "spectra" in parts:
            step = self.spectra.redraw(full=parts is ALL_PARTS)
            self._spectra_at = time.monotonic()
        if parts & {"progress", "status"}:
            self._show_progress()
        if "table" in parts:
            self.table.set_rows(self.session.comparison())
        current = self.session.current
        self._drawn_at = time.monotonic()
        self.frameDrawn.emit(step if step is not None else (current.step if current else 0))

    def _show_progress(self) -> None:
        run = self.session.current
        if run is None:
            return
        waiting = run.started is None and not run.done
        total = max(run.total_steps, 1)
        with deferred_paint(self.progress):
            self.progress.setRange(0, 0 if waiting else total)
            self.progress.setValue(min(run.step, total))
            self.progress.setFormat(run.progress_text())
        then = " · then the baseline" if self._queue else ""
        self.state_label.setText(run.state_text() + then)
        self.state_label.setColour(theme.ERROR_TEXT if run.error else "")

    def _say(self, text: str, error: bool) -> None:
        self.status.emit(text, error)

    def options(self) -> TrainSettings:
        """The form's settings (the main window persists them on close)."""
        return self.form.options()
