"""The Train tab on real short runs: live curves and spectra, cuts, pause/stop, errors, exit."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from rmt_gui.jobs.trainer import Trainer
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.surgery import get_weight
from rmt_gui.state.plot_data import plot_data
from rmt_gui.ui import dialogs
from rmt_gui.ui.train_panel import TrainPanel
from tests.helpers.app_window import (
    WAIT_MS,
    message_box,
    open_and_wait,
    shown_step,
    small_training,
)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def finish(qtbot, panel) -> None:
    """Wait until the panel has no run left."""
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)


def assert_final_spectra(view, run, k: int) -> None:
    """The large view shows the final model's first factor; its cell shows the new shape."""
    model = open_checkpoint(run.ended.model_path).build_model()
    assert view.current_layer() == "fc1.0.weight"
    report = view.spectrum.report
    weight = get_weight(model, "fc1.0.weight").double().numpy()
    expected = np.linalg.svd(weight, compute_uv=False)
    # Snapshots take the float32 Gram route: eigenvalues within 1e-6 of the top one, so singular
    # values within 1e-3 of the largest (smaller ones read as 0); the spike count stays exact.
    np.testing.assert_allclose(
        report.analysis.spectrum.singular_values, expected, rtol=1e-4, atol=1e-3 * expected[0]
    )
    drawn_x, drawn_y = view.spectrum.items.glyph.histogram()
    data = plot_data(report, view.spectrum.options)
    np.testing.assert_array_equal(drawn_x, data.edges)
    np.testing.assert_array_equal(drawn_y, data.density)
    assert view.multiples.title("fc1.0.weight").startswith(f"fc1.0\n{k}×784")


@pytest.mark.slow
def test_live_run_draws_the_engines_events(qtbot, window, tmp_path) -> None:
    panel = window.training.show()
    small_training(panel, tmp_path, epochs=3)
    panel.form.first_cut.setCurrentIndex(panel.form.first_cut.findData("end"))
    panel.form.skip_poor.setChecked(False)
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert panel.running and not panel.start_button.isEnabled()
    panel.pause_button.click()
    run = panel.session.runs[0]
    qtbot.waitUntil(lambda: run.status == "paused", timeout=WAIT_MS)
    before, after = ("fc1.weight", "fc2.weight"), ("fc1.0.weight", "fc1.1.weight", "fc2.weight")
    qtbot.waitUntil(lambda: panel.spectra.multiples.names == before, timeout=WAIT_MS)
    assert run.step < 50 and not run.cuts
    panel.pause_button.click()
    qtbot.waitUntil(lambda: run.step >= 60, timeout=WAIT_MS)
    panel.pause_button.click()
    qtbot.waitUntil(lambda: run.status == "paused", timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: panel.spectra.multiples.names == after and 50 <= (shown_step(panel) or 0) < 300,
        timeout=WAIT_MS,
    )
    panel.pause_button.click()
    finish(qtbot, panel)
    assert run.status == "finished" and run.run_dir.parent == tmp_path
    assert window.settings.train().dims == "784,64,10"
    steps = rows(run.run_dir / "steps.csv")
    raw = panel.curves.runs[0].raw
    assert len(steps) == 300
    np.testing.assert_allclose(raw.xData, [int(r["step"]) / 100 for r in steps])
    np.testing.assert_allclose(raw.yData, [float(r["loss"]) for r in steps], rtol=1e-5)
    metrics = rows(run.run_dir / "metrics.csv")
    epochs, test = panel.curves.runs[0].test.getData()
    np.testing.assert_allclose(epochs, [1, 2, 3])
    np.testing.assert_allclose(test, [100 * float(r["test_accuracy"]) for r in metrics], rtol=1e-5)
    cuts = lines(run.run_dir / "pruning.jsonl")
    assert [c["step"] for c in cuts] == [50, 100, 150, 200, 250]
    for markers in panel.curves.markers:
        assert markers.positions() == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5])
    first = cuts[0]["layers"][0]
    assert first["layer"] == "fc1.weight" and first["factorized"]
    k = first["rank_after"]
    logged = panel.log.topLevelItem(1).child(0)
    assert logged.text(1) == f"64×784 → {k}×784 + 64×{k}"
    assert logged.text(2) == f"64 → {k}" and logged.text(3) == str(first["n_signal"])
    assert panel.log.topLevelItemCount() == 2 + len(cuts)
    assert shown_step(panel) == 300 and run.spectra.final
    assert_final_spectra(panel.spectra, run, k)
    qtbot.waitUntil(lambda: any(v.path.name == "final.pt" for v in window.views()), timeout=WAIT_MS)
    assert window.tabs.currentWidget() is panel


@pytest.mark.slow
def test_pause_resume_and_stop(qtbot, window, tmp_path) -> None:
    panel = window.training.show()
    small_training(panel, tmp_path, limit=1600, epochs=200, every=500)
    panel.start_button.click()
    run = panel.session.runs[0]
    qtbot.waitUntil(lambda: run.step >= 60, timeout=WAIT_MS)
    panel.pause_button.click()
    qtbot.waitUntil(lambda: run.status == "paused", timeout=WAIT_MS)
    paused_at = run.step
    assert panel.pause_button.text() == "Resume"
    assert f"paused at step {paused_at}" in panel.state_label.text()
    panel.pause_button.click()
    qtbot.waitUntil(lambda: run.step > paused_at + 5, timeout=WAIT_MS)
    assert run.status == "running" and panel.pause_button.text() == "Pause"
    assert run.steps == list(range(1, len(run.steps) + 1))
    panel.stop_button.click()
    assert "stopping" in panel.state_label.text()
    finish(qtbot, panel)
    assert run.status == "cancelled"
    cancelled = run.run_dir / "cancelled.pt"
    assert run.ended.model_path == str(cancelled) and cancelled.is_file()
    assert (run.run_dir / "checkpoints" / "epoch-001.pt").is_file()
    summary = json.loads((run.run_dir / "run.json").read_text())
    assert summary["ended"]["status"] == "cancelled"
    assert len(rows(run.run_dir / "steps.csv")) == run.step
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: any(v.path == cancelled for v in window.views()), timeout=WAIT_MS)


@pytest.mark.slow
def test_an_engine_error_is_shown_and_the_app_stays_usable(
    qtbot, window, tmp_path, monkeypatch
) -> None:
    original, calls = Trainer._step, itertools.count()

    def failing(self, images, labels):
        if next(calls) == 30:
            raise RuntimeError("injected failure")
        return original(self, images, labels)

    monkeypatch.setattr(Trainer, "_step", failing)
    monkeypatch.setattr(TrainPanel, "in_process", False)  # the patch is in this process
    panel = window.training.show()
    small_training(panel, tmp_path, every=500)
    panel.start_button.click()
    qtbot.waitUntil(lambda: message_box("errorBox") is not None, timeout=WAIT_MS)
    box = message_box("errorBox")
    assert box.text() == "Training failed: internal error: RuntimeError: injected failure"
    assert "injected failure" in window.message.text()
    run = panel.session.runs[0]
    assert run.status == "failed" and run.steps == list(range(1, 31))
    assert len(panel.curves.runs[0].raw.xData) == 30
    assert not panel.running and panel.start_button.isEnabled()
    box.accept()
    monkeypatch.undo()
    small_training(panel, tmp_path, limit=640, epochs=1, every=500)
    panel.start_button.click()
    finish(qtbot, panel)
    assert panel.session.runs[0].status == "finished"


@pytest.mark.slow
def test_unreadable_data_is_reported(qtbot, window, tmp_path) -> None:
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        (raw / f"{name}-idx{3 if 'images' in name else 1}-ubyte").write_bytes(b"garbage")
    window.data.set_root(tmp_path / "data")
    panel = window.training.show()
    small_training(panel, tmp_path / "runs")
    panel.start_button.click()
    qtbot.waitUntil(lambda: message_box("errorBox") is not None, timeout=WAIT_MS)
    text = message_box("errorBox").text()
    assert text.startswith(f"Training failed: {tmp_path / 'data'}") and "\n" not in text
    message_box("errorBox").accept()
    assert not panel.running


@pytest.mark.slow
def test_closing_the_window_asks_then_stops_the_run(qtbot, window, tmp_path, monkeypatch) -> None:
    panel = window.training.show()
    small_training(panel, tmp_path, limit=1600, epochs=200, every=500)
    panel.start_button.click()
    run = panel.session.runs[0]
    qtbot.waitUntil(lambda: run.step >= 10, timeout=WAIT_MS)
    answers = iter([False, True])
    monkeypatch.setattr(dialogs, "confirm_stop_training", lambda _parent: next(answers))
    assert not window.close()
    assert window.isVisible() and panel.running
    step = run.step
    qtbot.waitUntil(lambda: run.step > step, timeout=WAIT_MS)
    assert window.close()
    assert not window.isVisible() and not panel.running
    assert panel.runner.wait(0)
    assert (run.run_dir / "cancelled.pt").is_file()
    assert json.loads((run.run_dir / "run.json").read_text())["ended"]["status"] == "cancelled"


EXIT_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rmt_gui.ui import dialogs
    from rmt_gui.ui.app import application
    from rmt_gui.ui.main_window import MainWindow
    from rmt_gui.ui.screenshot import wait_until
    from rmt_gui.ui.settings import AppSettings, ini_settings
    from tests.helpers.app_window import small_training

    def run(out, data):
        # as rmt_gui.ui.app.run_window: the window is released when this returns
        app = application()
        settings = AppSettings(ini_settings(out / "settings.ini"))
        settings.set_data_folder(data)
        window = MainWindow(settings)
        window.show()
        panel = window.training.show()
        small_training(panel, out / "runs", limit=1600, epochs=200, every=500)
        dialogs.confirm_stop_training = lambda parent: True
        panel.start()
        wait_until(lambda: panel.session.runs and panel.session.runs[0].step >= 10, 120)
        window.close()
        run_dir = panel.session.runs[0].run_dir
        print("cancelled.pt" if (run_dir / "cancelled.pt").is_file() else "")
        app.quit()

    run(Path(sys.argv[1]), Path(sys.argv[2]))
    """
)


@pytest.mark.slow
def test_the_app_exits_cleanly_while_training(tmp_path, data_dir) -> None:
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", EXIT_SCRIPT, str(tmp_path), str(data_dir)],
        capture_output=True, text=True, timeout=180, cwd=repo, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "cancelled.pt"


@pytest.mark.slow
def test_compare_from_the_open_model(qtbot, window, model_files, tmp_path) -> None:
    view = open_and_wait(qtbot, window, model_files["small"], preview=False)
    before = {k: v.clone() for k, v in view.document.model.state_dict().items()}
    panel = window.training.show()
    small_training(panel, tmp_path, limit=1600, every=50, compare=True)
    panel.form.source.setCurrentIndex(1)
    panel.form.skip_poor.setChecked(False)
    assert panel.form.dims.text() == "784,64,10" and not panel.form.dims.isEnabled()
    panel.start_button.click()
    finish(qtbot, panel)
    pruned, baseline = panel.session.runs
    assert pruned.started.params == 50_890 and baseline.started.params == 50_890
    assert (pruned.status, baseline.status) == ("finished", "finished")
    assert baseline.run_dir.name == pruned.run_dir.name + "-baseline"
    assert not baseline.cuts and pruned.cuts[0].changed[0].layer == "fc1.weight"
    base_steps = rows(baseline.run_dir / "steps.csv")
    y = panel.curves.runs[1].raw.yData
    np.testing.assert_allclose(y, [float(r["loss"]) for r in base_steps], rtol=1e-5)
    table = panel.table.texts()
    assert [r[0] for r in table] == ["RMT-pruned", "baseline (no pruning)"]
    for cells, run in zip(table, (pruned, baseline), strict=True):
        ended = json.loads((run.run_dir / "run.json").read_text())["ended"]
        assert cells[3] == f"{100 * ended['test_accuracy']:.2f}%"
        assert cells[5] == f"{ended['params']:,}"
    assert pruned.ended.params < baseline.ended.params
    assert table[0][6] == f"{100 * pruned.ended.params / baseline.ended.params:.1f}%"
    assert panel.bottom.currentWidget() is panel.table
    for key, tensor in view.document.model.state_dict().items():
        assert tensor.equal(before[key])
    opened = lambda: {v.path for v in window.views()}  # noqa: E731
    finals = {pruned.run_dir / "final.pt", baseline.run_dir / "final.pt"}
    qtbot.waitUntil(lambda: finals <= opened(), timeout=WAIT_MS)
    titles = {window.tabs.tabText(i) for i in range(window.tabs.count())}
    assert {pruned.run_dir.name, baseline.run_dir.name} <= titles
