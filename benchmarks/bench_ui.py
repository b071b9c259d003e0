"""Desktop app responsiveness, offscreen: redraw, layer switch, UI stalls, time to window, training.

Run: ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_ui.py [--training-only]``. Targets
(issue 5 §10): redraw of a 4096-value spectrum < 10 ms; selecting another analysed layer < 50 ms;
longest UI-thread stall while a 4096x4096 layer is analysed < 50 ms (a 5 ms timer heartbeat);
window shown < 2 s after launch. Also, without a target: the longest stall while a fresh app
process opens that file (its first file imports torch in the UI process). Issue 11: while the
Train tab trains 784-1000-10 with live spectrum snapshots (in its worker process), at least 10
frames drawn per second, the longest UI-thread stall < 30 ms and the training throughput within
1.05x of the headless engine (the same configuration and snapshot policy, timed in this run).
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import torch
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time

from rmt_gui.jobs.analysis_job import LayerReport
from rmt_gui.jobs.config import PruneConfig, SnapshotPolicy, TrainConfig
from rmt_gui.jobs.events import StepLoss
from rmt_gui.jobs.trainer import TrainData, Trainer
from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.model.data import load_mnist
from rmt_gui.model.native import save_native
from rmt_gui.model.tree import build_mlp, tree_from_state_dict
from rmt_gui.spectral import Spectrum, analyze_spectrum, mp_quantile
from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.ui.app import application
from rmt_gui.ui.main_window import MainWindow
from rmt_gui.ui.screenshot import wait_until
from rmt_gui.ui.settings import AppSettings, ini_settings
from rmt_gui.ui.spectrum_view import SpectrumView

SIDE = 4096
DATA = Path(os.environ.get("RMT_GUI_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
TRAIN = TrainConfig(
    dims=(784, 1000, 10), epochs=5, batch_size=128, limit_train=12_800, limit_test=2_000,
    prune=PruneConfig(), threads=max(1, (os.cpu_count() or 2) - 1), data_root=str(DATA),
)  # fmt: skip
SNAPSHOTS_PER_SECOND = 5
REPEATS = 6
TRAIN_BEAT_MS = 10
FRAMES_TARGET = 10
RATIO_TARGET = 1.05
TRAIN_STALL_MS = 30
STARTUP = """
import sys, time
from rmt_gui.cli import main  # the console script's import
from rmt_gui.ui.app import application
from rmt_gui.ui.main_window import MainWindow
from rmt_gui.ui.settings import AppSettings, ini_settings
app = application()
window = MainWindow(AppSettings(ini_settings(sys.argv[1])))
window.show()
app.processEvents()
print(time.time())
"""
COLD_OPEN = """
import sys, time
from pathlib import Path
from PySide6.QtCore import QTimer
from rmt_gui.ui.app import application
from rmt_gui.ui.main_window import MainWindow
from rmt_gui.ui.screenshot import wait_until
from rmt_gui.ui.settings import AppSettings, ini_settings
app = application()
window = MainWindow(AppSettings(ini_settings(Path(sys.argv[2]))))
window.resize(1500, 900)
window.show()
app.processEvents()
loaded = "torch" in sys.modules
beats = []
timer = QTimer()
timer.setInterval(5)
timer.timeout.connect(lambda: beats.append(time.perf_counter()))
timer.start()
window.open_paths([Path(sys.argv[1])])
view = window.views()[0]
wait_until(lambda: view.document is not None and view.document.analysis().complete
           and view.preview is not None, 600)
timer.stop()
view.document.mark_saved()
print(loaded, 1e3 * max(b - a for a, b in zip(beats, beats[1:])))
"""


def verdict(value_ms: float, target_ms: float) -> str:
    """A measured time and whether it met its target."""
    met = "met" if value_ms < target_ms else "MISSED"
    return f"{value_ms:8.2f} ms   (target < {target_ms:g} ms: {met})"


def synthetic_report(seed: int) -> LayerReport:
    """A 4096-value spectrum: MP bulk (gamma 1) quantiles plus 40 spikes, analysed by the core."""
    rng = np.random.default_rng(seed)
    bulk = mp_quantile((np.arange(SIDE - 40) + 0.5) / (SIDE - 40), 1.0, 1e-3)
    spikes = rng.uniform(5e-3, 5e-2, 40)
    spectrum = Spectrum.from_eigenvalues(np.concatenate([bulk, spikes]), (SIDE, SIDE))
    analysis = analyze_spectrum("w", spectrum)
    return LayerReport(
        LayerInfo("w", (SIDE, SIDE), SIDE * SIDE, "float32"), analysis, "", SIDE, True
    )


def bench_redraw() -> None:
    """Redraw (histogram + MP curve + lines + spikes, then a synchronous repaint)."""
    view = SpectrumView(PlotOptions("eigen", True, 60))
    view.resize(1000, 650)
    view.show()
    reports = [synthetic_report(0), synthetic_report(1)]
    state = {"i": 0}

    def redraw() -> None:
        state["i"] ^= 1
        view.show_report(reports[state["i"]])
        view.plot_widget.viewport().repaint()

    for _ in range(3):
        redraw()
    best = best_time(redraw, repeat=50, budget_s=10)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        redraw()
        times.append(time.perf_counter() - t0)
    print(f"{'redraw 4096-value spectrum (best)':<48}{verdict(best * 1e3, 10)}")
    print(f"{'redraw 4096-value spectrum (median of 30)':<48}{verdict(np.median(times) * 1e3, 10)}")


def window_with(path: Path, folder: Path) -> MainWindow:
    """A shown main window (temporary settings) opening ``path``."""
    window = MainWindow(AppSettings(ini_settings(folder / "settings.ini")), None, [path])
    window.resize(1500, 900)
    window.show()
    return window


def bench_select(folder: Path) -> None:
    """Switch between the layers of an analysed 784-1024-1024-1024-10 model."""
    path = folder / "mlp.pt"
    with path.open("wb") as handle:
        save_native(build_mlp([784, 1024, 1024, 1024, 10], seed=0), handle)
    window = window_with(path, folder)
    window.start()
    wait_until(lambda: window.current_view() is not None)
    view = window.current_view()
    wait_until(lambda: view.document.analysis().complete and view.preview is not None)
    names = [r.name for r in view.document.reports()]
    times = []
    for i in range(40):
        t0 = time.perf_counter()
        view.table.select_layer(names[i % len(names)])
        view.spectrum.plot_widget.viewport().repaint()
        times.append(time.perf_counter() - t0)
    print(f"{'select another layer (median of 40)':<48}{verdict(np.median(times) * 1e3, 50)}")
    print(f"{'select another layer (worst of 40)':<48}{verdict(max(times) * 1e3, 50)}")
    view.document.mark_saved()
    window.close()


def bench_stall(folder: Path) -> None:
    """Longest gap between 5 ms heartbeats while a 4096x4096 layer is opened and analysed."""
    path = folder / "big.pt"
    weight = torch.randn(SIDE, SIDE) / SIDE**0.5
    with path.open("wb") as handle:
        save_native(tree_from_state_dict({"big.weight": weight}), handle)
    gaps: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(5)

    def beat() -> None:
        gaps.append(clock.restart())

    timer.timeout.connect(beat)
    window = window_with(path, folder)
    QApplication.processEvents()
    t0 = time.perf_counter()
    window.start()
    QApplication.processEvents()
    tab_ms = (time.perf_counter() - t0) * 1e3
    clock.start()
    timer.start()
    wait_until(lambda: window.current_view() is not None)
    view = window.current_view()
    wait_until(
        lambda: view.document.analysis().complete and view.preview is not None, timeout_s=600
    )
    seconds = time.perf_counter() - t0
    timer.stop()
    print(f"{'new tab built and painted (before the job)':<48}{tab_ms:8.2f} ms")
    print(
        f"{'open + analyse 4096x4096 in a worker':<48}{seconds:8.2f} s   ({len(gaps)} heartbeats)"
    )
    print(f"{'longest UI-thread stall meanwhile':<48}{verdict(max(gaps), 50)}")
    print(f"{'99th percentile heartbeat gap':<48}{np.percentile(gaps, 99):8.2f} ms")
    window.close()


def bench_cold_open(folder: Path) -> None:
    """The longest heartbeat gap while a fresh app process opens and analyses the 4096x4096
    file of :func:`bench_stall`: the app's first file imports torch in the UI process, which
    this benchmark's own process has done before it measures anything else."""
    out = subprocess.run(
        [sys.executable, "-c", COLD_OPEN, str(folder / "big.pt"), str(folder / "cold.ini")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    loaded, longest = out.stdout.strip().splitlines()[-1].split()
    label = "first open, fresh app: longest UI-thread stall"
    print(f"{label:<48}{float(longest):8.2f} ms   (torch loaded before it: {loaded})")


def bench_startup(folder: Path) -> None:
    """Seconds from launching a Python process to the window being shown (best of 3)."""
    best = float("inf")
    for _ in range(3):
        start = time.time()
        out = subprocess.run(
            [sys.executable, "-c", STARTUP, str(folder / "startup.ini")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        best = min(best, float(out.stdout.strip().splitlines()[-1]) - start)
    print(f"{'window shown after launch (best of 3)':<48}{verdict(best * 1e3, 2000)}")


def headless_rate(folder: Path) -> float:
    """Steps per second of the engine iterated directly, same config and snapshots, no UI."""
    data = TrainData(
        load_mnist(DATA, train=True).head(TRAIN.limit_train),
        load_mnist(DATA, train=False).head(TRAIN.limit_test),
    )
    policy = SnapshotPolicy(max_per_second=SNAPSHOTS_PER_SECOND, background=True)
    trainer = Trainer(TRAIN, run_dir=folder, overwrite=True, data=data, snapshots=policy)
    last = None
    for event in trainer.run():
        if isinstance(event, StepLoss):
            last = event
    return last.step / last.elapsed


def headless_in_subprocess(folder: Path) -> float:
    """:func:`headless_rate` in a fresh process, as ``rmt-gui train`` runs (no Qt objects)."""
    out = subprocess.run(
        [sys.executable, __file__, "--headless-rate", str(folder)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


@dataclass
class AppRun:
    """One run in the Train tab: its rate, heartbeat gaps, frames and where the UI's time went."""

    rate: float
    gaps: dict[str, list[float]]
    frames: int
    share: float
    """The UI process's CPU seconds per second of training (all its threads)."""
    longest: str
    """The longest gap while training: the UI thread's CPU in it and what the panel drew."""


def traced(log: list[tuple[float, float, str]], draw: Callable[..., None], label: str):
    """``draw``, recording when each call ran and what it drew (``label``, or the parts)."""

    def run(*args: Any) -> None:
        start = time.perf_counter()
        draw(*args)
        log.append((start, time.perf_counter(), label or "+".join(sorted(args[0]))))

    return run


def longest_gap(beats: list[tuple[float, float, str]], log: list[tuple[float, float, str]]) -> str:
    """The longest heartbeat gap while training, the UI thread's CPU in it and the draws in
    it (a gap much longer than its CPU was spent waiting: the cores were busy elsewhere)."""
    pairs = [(a, b) for a, b in itertools.pairwise(beats) if b[2] == "training"]
    if not pairs:
        return "no training beats"
    (t0, c0, _), (t1, c1, _) = max(pairs, key=lambda pair: pair[1][0] - pair[0][0])
    draws = [f"{label} {1e3 * (end - start):.0f}" for start, end, label in log
             if start < t1 and end > t0]  # fmt: skip
    return f"{1e3 * (t1 - t0):.0f} ms, UI-thread CPU {1e3 * (c1 - c0):.0f} ms; " + (
        ", ".join(draws) or "no draw"
    )


def app_rate(folder: Path) -> AppRun:
    """Steps per second in the Train tab, UI heartbeat gaps (ms) by phase, frames drawn, the
    UI process's CPU per second of training (``process_time``) and the longest gap's make-up.

    The heartbeat ticks every ``TRAIN_BEAT_MS`` (the trainer runs in the Train tab's worker
    process, so the beat costs it no GIL, only a little CPU).

    Phases: ``loading`` (MNIST and the network, before ``RunStarted``), ``training`` (until
    ``RunEnded`` arrives) and ``ending`` (the final frame and the model opening in a tab).
    """
    window = MainWindow(AppSettings(ini_settings(folder / "settings.ini")))
    window.settings.set_data_folder(DATA)
    window.resize(1500, 900)
    window.show()
    panel = window.training.show()
    form = panel.form
    form.dims.setText(",".join(map(str, TRAIN.dims)))
    form.epochs.setValue(TRAIN.epochs)
    form.batch.setValue(TRAIN.batch_size)
    form.limit_train.setValue(TRAIN.limit_train)
    form.limit_test.setValue(TRAIN.limit_test)
    form.rate.setValue(SNAPSHOTS_PER_SECOND)
    form.out_folder.setText(str(folder / "app"))
    frames: list[int] = []
    panel.frameDrawn.connect(frames.append)
    gaps: dict[str, list[float]] = {"loading": [], "training": [], "ending": []}
    clocks: dict[str, tuple[float, float]] = {}
    beats: list[tuple[float, float, str]] = []
    log: list[tuple[float, float, str]] = []
    panel._draw = traced(log, panel._draw, "")
    panel.spectra.draw_queued = traced(log, panel.spectra.draw_queued, "queued piece")
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(TRAIN_BEAT_MS)

    def beat() -> None:
        run = panel.session.runs[0] if panel.session.runs else None
        started = run is not None and run.started is not None
        phase = "ending" if started and run.done else "training" if started else "loading"
        gaps[phase].append(clock.restart())
        clocks.setdefault(phase, (time.perf_counter(), time.process_time()))
        beats.append((time.perf_counter(), time.thread_time(), phase))

    timer.timeout.connect(beat)
    QApplication.processEvents()
    clock.start()
    timer.start()
    panel.start()
    wait_until(lambda: not panel.running and window.views(), timeout_s=600)
    view = window.views()[0]
    wait_until(lambda: view.document is not None, timeout_s=600)
    timer.stop()
    run = panel.session.runs[0]
    for tab in window.views():
        tab.shutdown()
        tab.runner.wait(60)
    window.close()
    (wall0, cpu0), (wall1, cpu1) = clocks["training"], clocks["ending"]
    share = (cpu1 - cpu0) / (wall1 - wall0)
    return AppRun(run.step / run.elapsed, gaps, len(frames), share, longest_gap(beats, log))


def bench_training(folder: Path) -> None:
    """Train 784-1000-10 headless (in its own process, as the CLI does) and in the Train tab,
    alternately, starting and ending headless. The host's speed drifts (by up to 20% over a
    minute here), so each app run is compared with the mean of the two headless runs around
    it, which cancels a steady drift; the verdict uses the median of these pairs' time ratios."""
    steps = TRAIN.epochs * TRAIN.limit_train // TRAIN.batch_size
    print(
        f"training {'-'.join(map(str, TRAIN.dims))}: {steps} steps of {TRAIN.batch_size}, "
        f"cut every epoch, spectra <= {SNAPSHOTS_PER_SECOND}/s, torch threads {TRAIN.threads}"
    )
    headless, app, drawn, shares, makeups = [], [], [], [], []
    stalls: dict[str, list[float]] = {"loading": [], "training": [], "ending": []}
    headless.append(headless_in_subprocess(folder / "h0"))
    for index in range(REPEATS):
        result = app_rate(folder / f"a{index}")
        app.append(result.rate)
        shares.append(result.share)
        makeups.append(result.longest)
        for phase, values in result.gaps.items():
            stalls[phase].append(max(values, default=0.0))
        drawn.append(result.frames / (steps / result.rate))
        headless.append(headless_in_subprocess(folder / f"h{index + 1}"))
    around = [(before + after) / 2 for before, after in itertools.pairwise(headless)]
    pairs = [h / a for h, a in zip(around, app, strict=True)]
    runs = " ".join(f"{h:.1f}/{a:.1f}" for h, a in zip(around, app, strict=True))
    order = " ".join(f"{rate:.1f}" for rate in headless)
    print(f"{'headless runs in order (steps/s)':<48}{order}")
    print(f"{'each pair, headless (mean around)/app (steps/s)':<48}{runs}")
    print(f"{'each pair, time ratio app/headless':<48}{' '.join(f'{r:.3f}' for r in pairs)}")
    print(f"{f'headless engine (best of {REPEATS + 1})':<48}{max(headless):8.1f} steps/s")
    print(f"{f'in the Train tab (best of {REPEATS})':<48}{max(app):8.1f} steps/s")
    print(f"{'time ratio of the bests':<48}{max(headless) / max(app):8.3f}x")
    ratio = float(np.median(pairs))
    met = "met" if ratio <= RATIO_TARGET else "MISSED"
    print(f"{'time ratio app / headless (median of pairs)':<48}{ratio:8.3f}x   "
          f"(target <= {RATIO_TARGET}x: {met})")  # fmt: skip
    fps = max(drawn)
    met = "met" if fps >= FRAMES_TARGET else "MISSED"
    print(f"{'frames drawn per second in the Train tab':<48}{fps:8.1f}      "
          f"(target >= {FRAMES_TARGET}: {met})")  # fmt: skip
    each = " ".join(f"{value:.0f}" for value in stalls["training"])
    print(f"{'longest stall while training, each run (ms)':<48}{each}")
    longest = max(stalls["training"])
    print(f"{'longest UI-thread stall while training':<48}{verdict(longest, TRAIN_STALL_MS)}")
    print(f"{'  before: loading MNIST, building the network':<48}{max(stalls['loading']):8.2f} ms")
    print(f"{'  after: final frame, model opened in a tab':<48}{max(stalls['ending']):8.2f} ms")
    each = " ".join(f"{share:.3f}" for share in shares)
    print(f"{'UI process CPU s per training s, each run':<48}{each}")
    worst = makeups[int(np.argmax(stalls["training"]))]
    print(f"{'  the longest stall: its UI-thread CPU, draws':<48}{worst}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--training-only", action="store_true", help="only the issue 6 checks")
    parser.add_argument("--headless-rate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.headless_rate is not None:
        print(headless_rate(args.headless_rate))
        return
    application()
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"cores {os.cpu_count()}, OPENBLAS_NUM_THREADS={blas}, torch threads set by the app")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.training_only:
            bench_redraw()
            bench_select(folder)
            bench_stall(folder)
            bench_cold_open(folder)
            bench_startup(folder)
        bench_training(folder)


if __name__ == "__main__":
    main()
