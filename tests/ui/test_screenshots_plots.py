"""Readable names and self-explaining plots: the layer table, All layers, spectrum and sweep.

Each test asserts what a user reads (texts, tooltips, where the legend sits) and saves a
screenshot under tests/screenshots/ to look at.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QHeaderView
from torch import nn

from rmt_gui.jobs.analysis_job import analyze_layer
from rmt_gui.model.module_layers import layers_from_module
from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.ui import theme
from rmt_gui.ui.app import application
from rmt_gui.ui.layer_table import NAME_COLUMN, LayerTable
from rmt_gui.ui.multiples_view import TITLE_HEIGHT
from rmt_gui.ui.settings import NAME_WIDTH_KEY
from rmt_gui.ui.spectrum_view import FIGURE_SIZE, SpectrumView
from rmt_gui.ui.sweep_view import SweepView
from rmt_gui.ui.theme import ValueAxis
from tests.helpers.app_window import open_and_wait, save_screenshot
from tests.helpers.long_names import PREFIX, long_names, write_long_names

TOOLTIP = Qt.ItemDataRole.ToolTipRole


@pytest.fixture(scope="module")
def spiked_report():
    """The report of a 300×200 linear layer: noise plus a rank-12 signal (12 spikes)."""
    application()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(200, 300))
    with torch.no_grad():
        model[0].weight.normal_(0, 0.05)
        model[0].weight += 0.04 * torch.randn(300, 12) @ torch.randn(12, 200)
    report = analyze_layer(model, layers_from_module(model)[0])
    assert report.analysis.fit.n_signal > 3
    return report


def shown_view(qtbot, report, options: PlotOptions | None = None) -> SpectrumView:
    """A spectrum view at a typical size, drawing ``report`` (default options: log axis)."""
    view = SpectrumView(options or PlotOptions())
    qtbot.addWidget(view)
    view.resize(640, 620)
    view.show()
    view.show_report(report)
    QApplication.processEvents()
    return view


@pytest.mark.slow
def test_long_names_show_their_distinguishing_part(qtbot, window, tmp_path) -> None:
    path = write_long_names(tmp_path / "encoder.safetensors")
    view = open_and_wait(qtbot, window, path, preview=False)
    table = view.table
    model = table.model()
    texts = [model.index(row, NAME_COLUMN).data() for row in range(model.rowCount())]
    wanted = [name.removeprefix(PREFIX).removesuffix(".weight") for name in long_names()]
    assert sorted(texts) == sorted(wanted)
    row = texts.index("0.attention.self.query")
    assert model.index(row, NAME_COLUMN).data(TOOLTIP).startswith(long_names()[0])
    header_tip = model.headerData(NAME_COLUMN, Qt.Orientation.Horizontal, TOOLTIP)
    assert f"“{PREFIX}”" in header_tip and "“.weight”" in header_tip
    gd = model.headerData(6, Qt.Orientation.Horizontal)
    assert gd == "GD rank"
    assert "Gavish–Donoho" in model.headerData(6, Qt.Orientation.Horizontal, TOOLTIP)
    metrics = table.fontMetrics()
    assert table.columnWidth(NAME_COLUMN) >= max(map(metrics.horizontalAdvance, texts))
    assert table.textElideMode() == Qt.TextElideMode.ElideLeft
    save_screenshot(window, "14_long_names_table")
    view.views.setCurrentWidget(view.multiples)
    QApplication.processEvents()
    save_screenshot(window, "15_long_names_all_layers")
    view.views.setCurrentWidget(view.multiples)
    QApplication.processEvents()
    for name in long_names()[:4]:
        plot, _ = view.multiples.cells[name]
        title = view.multiples._titles[plot]
        first, second = view.multiples.title(name).splitlines()
        block, _, tail = first.partition(".")
        assert name.startswith(f"{PREFIX}{block}.") and len(first) > 8
        assert name.removesuffix(".weight").endswith(tail.lstrip("…"))
        assert second.endswith("n_signal 2/48")
        assert title.item.boundingRect().height() <= TITLE_HEIGHT + 4
        assert title.item.toolTip() == name
    save_screenshot(window, "15_long_names_all_layers")


def test_layer_column_width_is_the_users_and_remembered(qtbot, window, tmp_path) -> None:
    path = write_long_names(tmp_path / "encoder.safetensors", blocks=2)
    view = open_and_wait(qtbot, window, path, preview=False)
    header = view.table.horizontalHeader()
    assert header.sectionResizeMode(NAME_COLUMN) == QHeaderView.ResizeMode.Interactive
    assert window.settings.name_width() is None
    header.resizeSection(NAME_COLUMN, 77)
    assert window.settings.name_width() == 77
    later = LayerTable()
    qtbot.addWidget(later)
    later.remember_width(window.settings)
    later.source.set_layers(list(view.document.analysis().layers))
    assert later.name_width() == 77
    for junk in ("wide", 10**6, -5):
        window.settings.store.setValue(NAME_WIDTH_KEY, junk)
        assert window.settings.name_width() is None


def test_legend_sits_outside_the_data_and_names_the_scale(qtbot, spiked_report) -> None:
    view = shown_view(qtbot, spiked_report)
    legend = view.legend.sceneBoundingRect()
    assert not legend.intersects(view.plot.vb.sceneBoundingRect())
    assert legend.width() <= view.plot.sceneBoundingRect().width()
    assert view.items.tags.items[0].text() == "λ₊ BEMA"
    save_screenshot(view, "16_spectrum_legend_and_rug")
    view.scale_box.setCurrentIndex(1)
    labels = [label.text for _, label in view.legend.items]
    assert "BEMA cutoff s₊" in labels and view.items.tags.items[0].text() == "s₊ BEMA"
    assert view.plot.getAxis("bottom").labelText == "singular value s"


def test_spikes_are_a_rug_below_the_histogram(qtbot, spiked_report) -> None:
    view = shown_view(qtbot, spiked_report, PlotOptions(log=False))
    x, y = view.items.glyph.spikes()
    assert x.size == spiked_report.analysis.fit.n_signal
    (_, _), (bottom, _) = view.plot.viewRange()
    assert np.all(y < 0) and np.all(y > bottom)
    left = view.plot.getAxis("left")
    ticks = [v for _, level in left.tickValues(bottom, 1.0, 400) for v in level]
    assert ticks and min(ticks) >= 0


def test_cutoff_label_stays_inside_the_plot(qtbot, spiked_report) -> None:
    view = shown_view(qtbot, spiked_report, PlotOptions(log=False))
    x0, x1 = view.plot.viewRange()[0]
    view.plot.setXRange(x0, view.items.cutoff.value() + 0.02 * (x1 - x0), padding=0)
    QApplication.processEvents()
    label = view.items.tags.items[0].sceneBoundingRect()
    assert view.plot.sceneBoundingRect().contains(label)
    assert not label.intersects(view.plot.vb.sceneBoundingRect())


def test_hover_readout_follows_the_rank_and_agrees_with_the_label(qtbot, spiked_report) -> None:
    view = shown_view(qtbot, spiked_report)
    for rank in (5, 150, 199):
        view.set_manual_rank(rank)
        assert view.manual_label.toPlainText() == f"keep {rank}"
        assert f"keep {rank} of 200 values" in view.hover.text()


def test_an_empty_plot_has_no_tick_labels(qtbot, spiked_report) -> None:
    view = SpectrumView(PlotOptions())
    qtbot.addWidget(view)
    assert not theme.values_shown(view.plot.getAxis("bottom"))
    view.show_report(spiked_report)
    assert theme.values_shown(view.plot.getAxis("bottom"))
    sweep = SweepView(8)
    qtbot.addWidget(sweep)
    assert not theme.values_shown(sweep.plot.getAxis("bottom"))


@pytest.mark.parametrize(
    ("low", "high", "pixels"), [(0.25, 0.45, 200), (-1.1, -0.95, 180), (-3.2, -1.8, 500)]
)
def test_a_short_log_range_gets_at_least_two_labels(low: float, high: float, pixels: int) -> None:
    axis = ValueAxis("bottom")
    axis.setLogMode(True)
    levels = axis.tickValues(low, high, pixels)
    labels = [s for s in axis.tickStrings(levels[0][1], 1.0, levels[0][0]) if s]
    assert 2 <= len(labels) <= pixels // 30
    assert len(set(labels)) == len(labels)


def test_saved_plot_has_a_title_and_a_sensible_size(qtbot, spiked_report, tmp_path) -> None:
    view = shown_view(qtbot, spiked_report)
    view.source = "encoder.safetensors"
    png = view.save_image(tmp_path / "plot.png")
    image = QImage(str(png))
    assert (image.width(), image.height()) == FIGURE_SIZE
    title = re.sub(r"<[^>]+>", "", view.figure_title())
    assert title.startswith(f"encoder.safetensors · {spiked_report.name} · 300×200")
    svg = view.save_image(tmp_path / "plot.svg").read_text()
    assert spiked_report.name in svg and "encoder.safetensors" in svg
    figure = view.figure()
    save_screenshot(figure, "17_saved_plot")
    figure.close()


def test_a_live_views_saved_plot_has_a_legend_but_no_manual_line(qtbot, spiked_report) -> None:
    view = SpectrumView(PlotOptions(), live=True)
    qtbot.addWidget(view)
    view.show_report(spiked_report)
    figure = view.figure()
    labels = [label.text for _, label in figure.legend.items]
    assert figure.legend.isVisible() and "histogram" in labels
    assert "manual cutoff (drag)" not in labels and not figure.manual.isVisible()
    figure.close()
