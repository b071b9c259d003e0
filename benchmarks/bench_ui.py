"""Desktop app responsiveness, offscreen: redraw, layer switch, UI stalls, time to window.

Run: ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_ui.py``. Targets (issue 5 §10):
redraw of a 4096-value spectrum < 10 ms; selecting another analysed layer < 50 ms; longest
UI-thread stall while a 4096x4096 layer is analysed < 50 ms (a 5 ms timer heartbeat); window
shown < 2 s after launch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import torch
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time

from rmt_gui.jobs.analysis_job import LayerReport
from rmt_gui.model.checkpoint import LayerInfo
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


def main() -> None:
    application()
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"cores {os.cpu_count()}, OPENBLAS_NUM_THREADS={blas}, torch threads set by the app")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_redraw()
        bench_select(folder)
        bench_stall(folder)
        bench_startup(folder)


if __name__ == "__main__":
    main()
