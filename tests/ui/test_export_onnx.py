"""File › Export… offers every core format, writes ONNX from the app, and reports the export's
size on disk and CPU latency (measured in the export worker) in the status line."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

from rmt_gui.model.export_formats import FORMAT_FILES
from rmt_gui.model.onnx_export import reference_outputs, run_session, sample_images, session
from rmt_gui.ui.dialogs import EXPORT_FILTERS
from tests.helpers.app_window import WAIT_MS, open_and_wait

SUMMARY = re.compile(
    r"size [\d.]+ kB -> [\d.]+ kB \([\d.]+x\); CPU latency batch 1 [\d.e+-]+ -> [\d.e+-]+ ms, "
    r"batch 256 [\d.e+-]+ -> [\d.e+-]+ ms( \(torch -> onnxruntime\))?"
)


def test_filters_come_from_the_core_formats() -> None:
    assert [fmt for fmt, _ in EXPORT_FILTERS.values()] == list(FORMAT_FILES)
    assert ("onnx", ".onnx") in EXPORT_FILTERS.values()


def export_as(qtbot, window, view, monkeypatch, target, fmt: str) -> str:
    """Export the open document through the real dialog path as ``fmt``; the status text."""
    label = next(k for k, v in EXPORT_FILTERS.items() if v[0] == fmt)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), label))
    view.tasks.export_model()
    qtbot.waitUntil(lambda: "Exported" in window.message.text(), timeout=WAIT_MS)
    return window.message.text()


@pytest.mark.slow
def test_onnx_export_from_the_app_runs_in_onnxruntime(
    qtbot, window, model_files, tmp_path, monkeypatch
) -> None:
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    view = open_and_wait(qtbot, window, model_files["small"])
    target = tmp_path / "small"
    text = export_as(qtbot, window, view, monkeypatch, target, "onnx")
    written = target.with_suffix(".onnx")
    assert f"Exported ONNX to {written}" in text
    assert SUMMARY.search(text) and "(torch -> onnxruntime)" in text
    assert "onnxruntime vs PyTorch max |diff|" in text
    images = sample_images(8)
    got = run_session(session(written), images).numpy()
    expected = reference_outputs(view.document.model, images).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert not view.document.dirty


def test_pruned_export_reports_size_and_latency_before_and_after(
    qtbot, window, model_files, tmp_path, monkeypatch
) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.apply_pruning()
    qtbot.waitUntil(lambda: view.document.history.cursor == 1, timeout=WAIT_MS)
    target = tmp_path / "pruned.safetensors"
    text = export_as(qtbot, window, view, monkeypatch, target, "safetensors")
    match = SUMMARY.search(text)
    assert match and match.group(1) is None and "onnxruntime" not in text
    before, after = (float(x) for x in re.findall(r"size ([\d.]+) kB -> ([\d.]+) kB", text)[0])
    assert before == pytest.approx(model_files["small"].stat().st_size / 1e3, abs=0.05)
    assert after == pytest.approx(target.stat().st_size / 1e3, abs=0.05)
