"""Opening files: by path, by drag-and-drop, bad files, pickled modules, weights-only files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from rmt_gui.spectral.histogram import histogram, mp_curve, spectrum_values
from rmt_gui.state.plot_data import effective_bins
from rmt_gui.ui.main_window import MainWindow
from tests.helpers.app_window import WAIT_MS, message_box, open_and_wait, wait_ready
from tests.helpers.drops import drop
from tests.helpers.model_files import PlainNet


def test_open_shows_layers_and_plots_the_cores_numbers(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    table = view.table
    assert [row.info.name for row in table.source.rows] == ["fc1.weight", "fc2.weight"]
    table.select_layer("fc1.weight")
    report = view.document.report("fc1.weight")
    assert view.spectrum.report is report
    options = view.spectrum.options
    values = spectrum_values(report.analysis.spectrum, options.scale)[: report.rank]
    bins = effective_bins(values.size, options.bins)
    assert bins == 16
    edges, density = histogram(values, bins, log=options.log)
    x, y = view.spectrum.items.glyph.histogram()
    np.testing.assert_array_equal(x, edges)
    np.testing.assert_array_equal(y, density)
    cx, cy = mp_curve(report.analysis.fit, options.scale, log=options.log)
    px, py = view.spectrum.items.glyph.curve()
    np.testing.assert_allclose(px, cx)
    np.testing.assert_allclose(py, cy)
    assert view.spectrum.items.cutoff.value() == pytest.approx(
        np.log10(report.analysis.fit.lambda_plus)
    )
    spikes_x, _ = view.spectrum.items.glyph.spikes()
    assert len(spikes_x) == report.analysis.fit.n_signal > 0
    assert f"n_signal = {report.analysis.fit.n_signal}" in view.spectrum.readout.text()


def test_every_table_column_is_visible_at_the_default_size(qtbot, window, model_files) -> None:
    window.resize(1500, 900)
    view = open_and_wait(qtbot, window, model_files["small"])
    QApplication.processEvents()
    table = view.table
    assert window.width() == 1500
    assert table.horizontalHeader().length() <= table.viewport().width()
    assert not table.horizontalScrollBar().isVisible()
    assert table.model().index(0, 0).data() == "fc1"
    assert table.columnWidth(0) >= table.fontMetrics().horizontalAdvance("fc1")


def test_singular_value_scale_and_linear_axis(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    spectrum = view.spectrum
    spectrum.log_box.setChecked(False)
    spectrum.scale_box.setCurrentIndex(1)
    spectrum.bins_box.setValue(25)
    report = spectrum.report
    s = report.analysis.spectrum.singular_values[: report.rank]
    edges, density = histogram(s, effective_bins(s.size, 25))
    x, y = spectrum.items.glyph.histogram()
    np.testing.assert_array_equal(x, edges)
    np.testing.assert_array_equal(y, density)
    assert spectrum.items.cutoff.value() == pytest.approx(report.analysis.fit.sv_threshold)
    assert view.multiples.options == spectrum.options


def test_keyboard_moves_through_layers(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.table.select_layer("fc1.weight")
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_Down)
    assert view.spectrum.report.name == "fc2.weight"
    view.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    first = view.table.model().index(0, 0).data()
    assert first == "fc2"


@pytest.mark.slow
def test_drop_several_files_opens_tabs_and_overlay(qtbot, window, model_files) -> None:
    drop(window, [model_files["small"], model_files["other"]])
    assert window.tabs.count() == 2
    for view in window.views():
        qtbot.waitUntil(lambda v=view: v.document is not None, timeout=WAIT_MS)
        wait_ready(qtbot, view)
    view = window.views()[0]
    assert "other.pt" in [view.spectrum.overlay_box.itemText(i) for i in range(3)]
    view.spectrum.overlay_box.setCurrentText("other.pt")
    other = window.views()[1].document.report("fc1.weight")
    x, _ = view.spectrum.overlay.getData()
    assert x is not None and len(x) == effective_bins(48, view.spectrum.options.bins) + 1
    assert view.spectrum.overlay_report is other
    qtbot.waitUntil(
        lambda: [p.name for p in window.settings.recent_files()][:2] == ["other.pt", "small.pt"]
    )
    drop(window, [model_files["small"]])
    assert window.tabs.count() == 2


def failed_view(qtbot, win: MainWindow, path: Path):
    """Open ``path`` and wait until its tab shows why it could not be opened."""
    win.open_paths([path])
    view = next(v for v in win.views() if v.path == path)
    qtbot.waitUntil(lambda: bool(view.failure), timeout=WAIT_MS)
    return view


def test_bad_file_shows_the_file_and_problem_in_its_tab(qtbot, window, tmp_path) -> None:
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"\x80\x02this is not a pickle")
    view = failed_view(qtbot, window, bad)
    assert view.error.isVisibleTo(view) and "broken.pt" in view.error.text()
    assert "\n" not in view.failure
    assert "broken.pt" in window.message.text()
    assert window.tabs.count() == 1 and view.document is None
    assert window.tabs.tabText(0).startswith("⚠")
    assert message_box("errorBox") is None


def test_missing_file_message(qtbot, window, tmp_path) -> None:
    view = failed_view(qtbot, window, tmp_path / "nope.pt")
    assert "no such file" in view.failure and "nope.pt" in view.failure


def test_pickled_module_asks_for_trust(qtbot, window, tmp_path) -> None:
    path = tmp_path / "module.pt"
    torch.save(PlainNet(), path)
    window.open_paths([path])
    qtbot.waitUntil(lambda: message_box("trustBox") is not None, timeout=WAIT_MS)
    box = message_box("trustBox")
    assert "runs code" in box.text()
    assert "PlainNet" in box.text()
    view = window.tabs.currentWidget()
    assert view.document is None
    trust = next(b for b in box.buttons() if "run its code" in b.text())
    trust.click()
    qtbot.waitUntil(lambda: view.document is not None, timeout=WAIT_MS)
    wait_ready(qtbot, view)
    assert window.tabs.count() == 1
    assert view.document.checkpoint.format == "pickled-module"
    assert [r.name for r in view.document.reports()] == ["fc1.weight", "fc2.weight"]


def test_weights_only_file_keeps_spectra_and_says_why(qtbot, window, tmp_path) -> None:
    path = tmp_path / "weights.npz"
    rng = np.random.default_rng(0)
    np.savez(path, a=rng.standard_normal((300, 200)), b=rng.standard_normal((50, 300)))
    view = open_and_wait(qtbot, window, path, preview=False)
    assert view.document.not_runnable
    assert "Nothing to prune" in view.prune.totals.text()
    assert view.banner.isVisibleTo(view)
    assert "cannot rebuild" in view.banner.text()
    assert view.spectrum.report is not None and view.spectrum.report.analysis is not None
    view.tasks.evaluate()
    assert "cannot rebuild" in view.history.note.text()
    assert "cannot rebuild" in window.message.text()


def test_empty_state_and_recent_list(qtbot, window, model_files) -> None:
    assert window.stack.currentWidget() is window.empty
    open_and_wait(qtbot, window, model_files["small"])
    assert window.stack.currentWidget() is window.tabs
    first = str(model_files["small"].resolve())
    qtbot.waitUntil(lambda: bool(window.recent_menu.actions()))
    assert window.recent_menu.actions()[0].text() == first
    window.close_tab(0)
    assert window.stack.currentWidget() is window.empty
    assert window.empty.recent.count() == 1


def test_a_file_opened_just_before_closing_still_joins_the_recent_files(
    qtbot, window, model_files
) -> None:
    window.recent_timer.setInterval(60_000)  # the delayed write has not happened yet
    open_and_wait(qtbot, window, model_files["small"])
    assert window.settings.recent_files() == []
    window.close()
    assert window.settings.recent_files() == [model_files["small"].resolve()]
