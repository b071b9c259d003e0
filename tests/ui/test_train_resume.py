"""The Train tab's Resume run…: a stopped run goes on live to the uninterrupted run's model."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from rmt_gui.jobs.config import TrainConfig
from rmt_gui.jobs.events import StepLoss
from rmt_gui.jobs.trainer import Trainer
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.state.training import baseline_dir
from rmt_gui.ui.train_panel import TrainPanel
from tests.helpers.training_runs import csv_rows, mnist_slice, weights

WAIT_MS = 60_000
STOP_AFTER = 25  # steps: in epoch 2 of 3 (20 steps per epoch), after the cuts at 7, 14 and 21


def short_run(panel, out: Path) -> None:
    """Train-tab settings for 3 epochs of 20 batches of 32, a cut every 7 steps."""
    form = panel.form
    form.dims.setText("784,32,10")
    form.epochs.setValue(3)
    form.batch.setValue(32)
    form.limit_train.setValue(640)
    form.limit_test.setValue(200)
    form.every.setValue(7)
    form.every_unit.setCurrentIndex(form.every_unit.findData("steps"))
    form.skip_poor.setChecked(False)
    form.compare.setChecked(False)
    form.out_folder.setText(str(out))


def error_box() -> QMessageBox | None:
    """The open error message box, if any."""
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    return next((b for b in boxes if b.objectName() == "errorBox" and b.isVisible()), None)


@pytest.mark.slow
def test_a_stopped_run_resumes_in_the_train_tab(qtbot, window, tmp_path, monkeypatch) -> None:
    original, calls = Trainer._step, itertools.count(1)

    def pausing(self, images, labels):
        if next(calls) == STOP_AFTER:
            self.pause.pause()
        return original(self, images, labels)

    monkeypatch.setattr(Trainer, "_step", pausing)
    monkeypatch.setattr(TrainPanel, "in_process", False)  # the patch is in this process
    panel = window.training.show()
    short_run(panel, tmp_path)
    panel.start_button.click()
    stopped = panel.session.runs[0]
    qtbot.waitUntil(lambda: stopped.status == "paused", timeout=WAIT_MS)
    panel.stop_button.click()
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    monkeypatch.setattr(Trainer, "_step", original)
    run_dir = stopped.run_dir
    assert stopped.status == "cancelled" and stopped.step == STOP_AFTER
    assert (run_dir / "cancelled.pt").is_file()

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_args: str(run_dir))
    panel.resume_button.click()
    assert panel.running and not panel.resume_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    (run,) = panel.session.runs
    assert run.status == "finished" and run.run_dir == run_dir and run.label == "RMT-pruned"
    assert run.steps == list(range(1, 61))
    logged = csv_rows(run_dir / "steps.csv")
    assert [int(r["step"]) for r in logged] == run.steps
    np.testing.assert_allclose(panel.curves.runs[0].raw.xData, np.arange(1, 61) / 20)
    epochs, test = panel.curves.runs[0].test.getData()
    np.testing.assert_allclose(epochs, [1, 2, 3])
    metrics = csv_rows(run_dir / "metrics.csv")
    np.testing.assert_allclose(test, [100 * float(r["test_accuracy"]) for r in metrics], rtol=1e-5)
    notes = [panel.log.topLevelItem(i).text(0) for i in range(panel.log.topLevelItemCount())]
    assert f"RMT-pruned: resuming from {run_dir / 'cancelled.pt'} at step {STOP_AFTER}" in notes
    assert not (run_dir / "cancelled.pt").exists()

    started = json.loads((run_dir / "run.json").read_text())["started"]
    trainer = Trainer(TrainConfig.from_json(started["config"]), data=mnist_slice(640, 200))
    list(trainer.run())
    final = weights(run_dir / "final.pt")
    for name, tensor in trainer.model.state_dict().items():
        assert float((tensor - final[name]).abs().max()) <= 1e-6, name
    assert open_checkpoint(run_dir / "final.pt").metadata["status"] == "finished"
    final_path = run_dir / "final.pt"
    qtbot.waitUntil(lambda: any(v.path == final_path for v in window.views()), timeout=WAIT_MS)


def test_a_finished_run_is_not_resumed(qtbot, window, tmp_path) -> None:
    run_dir = tmp_path / "train-done"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "final.pt").write_bytes(b"x")
    (run_dir / "run.json").write_text(json.dumps({"started": {"config": {"epochs": 3}}}))
    panel = window.training.show()
    panel.resume(run_dir)
    qtbot.waitUntil(lambda: error_box() is not None, timeout=WAIT_MS)
    text = error_box().text()
    assert text == f"Cannot resume: {run_dir}: nothing to resume: the run finished all 3 epochs"
    error_box().accept()
    assert not panel.running and panel.start_button.isEnabled()
    assert window.training.actions["choose_resume"].isEnabled()


@pytest.mark.slow
def test_the_unfinished_baseline_of_a_session_goes_on(qtbot, window, tmp_path) -> None:
    data = mnist_slice(400, 100)
    pruned = TrainConfig(
        dims=(784, 32, 10), epochs=2, batch_size=100, limit_train=400, limit_test=100
    )
    run_dir = tmp_path / "train-session"
    list(Trainer(pruned, run_dir=run_dir, data=data).run())
    plain = dataclasses.replace(pruned, prune=None)
    baseline = Trainer(plain, run_dir=baseline_dir(run_dir), data=data)
    for event in baseline.run():
        if isinstance(event, StepLoss) and event.step == 6:
            baseline.cancel.cancel()
    panel = window.training.show()
    panel.resume(run_dir)
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    (run,) = panel.session.runs
    assert (run.label, run.baseline, run.status, run.error) == (
        "baseline (no pruning)", True, "finished", "",
    )  # fmt: skip
    assert run.run_dir == baseline_dir(run_dir) and run.steps == list(range(1, 9))
    notes = [panel.log.topLevelItem(i).text(0) for i in range(panel.log.topLevelItemCount())]
    assert f"not resumed: {run_dir}: nothing to resume: the run finished all 2 epochs" in notes
    assert [row.label for row in panel.session.comparison()] == ["baseline (no pruning)"]
