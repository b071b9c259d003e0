"""Screenshots of the main screens under tests/screenshots/ (kept out of git), checked non-empty."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from rmt_gui.ui.dialogs import DataMissingDialog
from tests.helpers.app_window import (
    WAIT_MS,
    open_and_wait,
    save_screenshot,
    shown_step,
    small_training,
    wait_ready,
)


def colours(path) -> int:
    """Distinct colours in a saved screenshot (a blank or failed grab has one or two)."""
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    bits = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.width() * image.height())
    return int(np.unique(bits).size)


@pytest.mark.slow
def test_main_screens(qtbot, window, model_files) -> None:
    assert colours(save_screenshot(window, "01_empty_state")) > 20
    view = open_and_wait(qtbot, window, model_files["small"])
    view.table.select_layer("fc1.weight")
    view.history.evaluate_button.click()
    step = view.document.history.current
    qtbot.waitUntil(lambda: step.evaluation is not None, timeout=WAIT_MS)
    assert colours(save_screenshot(window, "02_spectrum")) > 200
    view.spectrum.log_box.setChecked(False)
    assert colours(save_screenshot(view.spectrum, "03_spectrum_linear")) > 100
    view.spectrum.log_box.setChecked(True)
    view.views.setCurrentWidget(view.multiples)
    assert colours(save_screenshot(window, "04_all_layers")) > 200
    view.views.setCurrentWidget(view.spectrum)
    view.prune.use_rank(20)
    wait_ready(qtbot, view)
    assert colours(save_screenshot(window, "05_manual_rank_preview")) > 200
    view.apply_pruning()
    qtbot.waitUntil(lambda: view.document.history.cursor == 1, timeout=WAIT_MS)
    wait_ready(qtbot, view)
    view.spectrum.overlay_box.setCurrentIndex(1)
    view.history.evaluate_button.click()
    pruned = view.document.history.current
    qtbot.waitUntil(lambda: pruned.evaluation is not None, timeout=WAIT_MS)
    assert colours(save_screenshot(window, "06_pruned_with_overlay_and_history")) > 200
    view.undo()
    view.show_view(view.sweep)
    view.sweep.start_button.click()
    qtbot.waitUntil(lambda: not view.sweep.cancel_button.isEnabled(), timeout=WAIT_MS)
    assert colours(save_screenshot(window, "07_rank_sweep")) > 100


def test_dialog_screens(qtbot, window, model_files, tmp_path) -> None:
    window.settings.set_data_folder(tmp_path / "no-data")
    view = open_and_wait(qtbot, window, model_files["small"])
    view.tasks.evaluate()
    dialog = window.data.dialog
    assert isinstance(dialog, DataMissingDialog)
    save_screenshot(dialog, "08_data_missing")
    dialog.reject()
    bad = tmp_path / "notes.txt"
    bad.write_text("not a model")
    window.open_paths([bad])
    failed = window.tabs.currentWidget()
    qtbot.waitUntil(lambda: bool(failed.failure), timeout=WAIT_MS)
    save_screenshot(window, "09_error")


def test_weights_only_screen(qtbot, window, tmp_path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "encoder.npz"
    np.savez(path, **{f"block{i}": rng.standard_normal((256, 128)) for i in range(5)})
    open_and_wait(qtbot, window, path, preview=False)
    assert colours(save_screenshot(window, "10_weights_only")) > 200


@pytest.mark.slow
def test_train_screens(qtbot, window, tmp_path) -> None:
    panel = window.training.show()
    small_training(panel, tmp_path, limit=6400, epochs=4, dims="784,1000,10", compare=True)
    panel.form.batch.setValue(64)
    panel.form.every_unit.setCurrentIndex(panel.form.every_unit.findData("epochs"))
    panel.form.every.setValue(1)
    panel.start()
    pruned = panel.session.runs[0]
    qtbot.waitUntil(
        lambda: (
            pruned.status == "running"
            and panel.progress.value() >= 150
            and (shown_step(panel) or 0) > 100
        ),
        timeout=WAIT_MS,
    )
    assert colours(save_screenshot(window, "11_train_running")) > 200
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    panel.bottom.setCurrentWidget(panel.log)
    panel.spectra.spectrum.overlay_box.setCurrentIndex(1)
    assert colours(save_screenshot(window, "12_train_after_pruning")) > 200
    panel.bottom.setCurrentWidget(panel.table)
    assert colours(save_screenshot(window, "13_train_comparison")) > 200
