"""Hugging Face folders and LoRA adapters in the app: header, roles, filter, metrics, heat map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from rmt_gui.state.layer_filter import OUTSIDE, LayerFilter
from rmt_gui.state.layer_metrics import METRICS
from rmt_gui.state.plot_data import effective_bins
from rmt_gui.ui.compare_view import BINS
from rmt_gui.ui.layer_table import COLUMNS
from tests.helpers.app_window import open_and_wait, save_screenshot, wait_ready
from tests.helpers.drops import drop
from tests.helpers.hf_folders import bert_like, lora_factors, write_adapter, write_sharded
from tests.helpers.run_folders import write_run

QUERY_0 = "encoder.layer.0.attention.self.query.weight"
EMBEDDINGS = ("word_embeddings", "position_embeddings", "token_type_embeddings")


@pytest.fixture
def bert_folder(tmp_path: Path) -> Path:
    """A tiny BERT-shaped model sharded in three safetensors files with an index."""
    return write_sharded(tmp_path / "tiny-bert", bert_like(), shards=3)


@pytest.fixture
def adapter_folder(tmp_path: Path) -> Path:
    """A LoRA adapter (r = 2, alpha = 4: scale 2) with planted singular values."""
    rng = np.random.default_rng(3)
    updates = {
        "encoder.layer.0.attention.self.query": lora_factors(rng, 24, 24, [3.0, 1.0]),
        "encoder.layer.1.output.dense": lora_factors(rng, 24, 48, [2.0, 0.5]),
    }
    return write_adapter(tmp_path / "tiny-lora", updates, r=2, alpha=4.0)


def column(name: str) -> int:
    """The index of the layer table's column ``name``."""
    return COLUMNS.index(name)


def cell(view, name: str, header: str) -> str:
    """The text the table shows for layer ``name`` in column ``header``."""
    source = view.table.source
    return source.index(source.row_of(name), column(header)).data()


def test_dropped_folder_opens_as_one_tab_with_architecture_and_roles(qtbot, window, bert_folder):
    drop(window, [bert_folder])
    assert window.tabs.count() == 1
    view = window.tabs.currentWidget()
    qtbot.waitUntil(lambda: view.document is not None, timeout=60_000)
    wait_ready(qtbot, view)
    assert "bert, hidden 24, 2 layers" in view.header.text()
    assert "3 shards" in view.header.text()
    assert cell(view, QUERY_0, "Role") == "0 · query"
    assert cell(view, "encoder.layer.1.intermediate.dense.weight", "Role") == "1 · MLP up"
    assert cell(view, "embeddings.word_embeddings.weight", "Role") == "embedding"
    targets = view.target_layers()
    assert QUERY_0 in targets
    assert not [name for name in targets if "embeddings" in name]
    save_screenshot(window, "23_hf_folder_roles")
    word = "embeddings.word_embeddings.weight"
    view.prune.scope_selected.setChecked(True)
    view.table.select_layer(word)
    assert view.target_layers() == [word]


def test_filter_by_block_and_role_hides_rows(qtbot, window, bert_folder):
    view = open_and_wait(qtbot, window, bert_folder)
    bar, table = view.filter_bar, view.table
    assert len(table.shown_layers()) == 16
    bar.block.setCurrentIndex(bar.block.findData(1))
    shown = table.shown_layers()
    assert len(shown) == 6
    assert all(name.startswith("encoder.layer.1.") for name in shown)
    bar.role.setCurrentIndex(bar.role.findData("attention_query"))
    assert table.shown_layers() == ["encoder.layer.1.attention.self.query.weight"]
    assert bar.count.text() == "1 of 16 layers"
    bar.block.setCurrentIndex(bar.block.findData(OUTSIDE))
    bar.role.setCurrentIndex(bar.role.findData("embeddings, heads, norms"))
    assert sorted(table.shown_layers()) == sorted(f"embeddings.{e}.weight" for e in EMBEDDINGS)
    table.select_layer(QUERY_0)
    assert table.proxy.filter == LayerFilter()
    assert bar.block.currentIndex() == 0
    assert view.spectrum.report.name == QUERY_0


def test_metric_columns_sort_and_match_the_reports(qtbot, window, bert_folder):
    view = open_and_wait(qtbot, window, bert_folder)
    table = view.table
    table.sortByColumn(column("α"), Qt.SortOrder.AscendingOrder)
    names = table.shown_layers()
    alphas = [view.document.report(name).metrics.alpha for name in names]
    assert alphas == sorted(alphas)
    first = view.document.report(names[0]).metrics
    assert cell(view, names[0], "α") == f"{first.alpha:.4g}"
    assert cell(view, names[0], "Stable rank") == f"{first.stable_rank:.4g}"
    assert cell(view, names[0], "Label").startswith(first.warning or "")


def test_adapter_rows_say_update_and_rank_with_its_singular_values(qtbot, window, adapter_folder):
    view = open_and_wait(qtbot, window, adapter_folder, preview=False)
    query = QUERY_0
    report = view.document.report(query)
    assert report.analysis is None and report.problem == ""
    np.testing.assert_allclose(report.update.values, [6.0, 2.0], rtol=1e-5)
    assert cell(view, query, "Fit error") == "adapter update, rank 2"
    assert cell(view, query, "n_signal") == "2"
    assert cell(view, query, "Role") == "0 · query"
    assert view.target_layers() == []
    down = view.document.report("encoder.layer.1.output.dense.weight")
    np.testing.assert_allclose(down.update.values, [4.0, 1.0], rtol=1e-5)
    save_screenshot(window, "24_lora_adapter_rows")


def test_heatmap_click_opens_the_layer_and_tooltips_hold_values(qtbot, window, bert_folder):
    view = open_and_wait(qtbot, window, bert_folder)
    view.views.setCurrentWidget(view.heatmap)
    grid, model = view.heatmap.grid, view.heatmap.model
    assert model.rowCount() == 16 and model.columnCount() == len(METRICS)
    target = "encoder.layer.1.output.dense.weight"
    row = model.names.index(target)
    alpha_col = [m.key for m in METRICS].index("alpha")
    index = model.index(row, alpha_col)
    alpha = view.document.report(target).metrics.alpha
    assert f"α = {alpha:.4g}" in index.data(Qt.ItemDataRole.ToolTipRole)
    colors = {model.index(r, alpha_col).data(Qt.ItemDataRole.BackgroundRole).name()
              for r in range(model.rowCount())}  # fmt: skip
    assert len(colors) > 3
    grid.scrollTo(index)
    qtbot.mouseClick(
        grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.visualRect(index).center()
    )
    assert view.table.current_layer() == target
    assert view.spectrum.report.name == target
    assert view.heatmap.selected() == target
    assert view.views.currentWidget() is view.spectrum
    view.views.setCurrentWidget(view.heatmap)
    save_screenshot(window, "25_metric_heatmap")


def test_compare_shows_metric_deltas_and_both_spectra(qtbot, window, tmp_path, bert_folder):
    tensors = bert_like()
    changed = "encoder.layer.1.intermediate.dense.weight"
    tensors[changed] = tensors[changed] * np.float32(2.0)
    tuned = write_sharded(tmp_path / "tiny-bert-tuned", tensors, shards=2)
    view = open_and_wait(qtbot, window, bert_folder)
    compare = window.compare(view.path, tuned)
    qtbot.waitUntil(lambda: compare.compared is not None, timeout=60_000)
    assert compare.shown_layers()[0] == changed
    headers = compare.model.headers
    col = headers.index("Δ s max")
    row = compare.model.rows[0]
    layer = compare.compared.layers[0]
    sv = layer.metrics["sv_max"]
    assert sv.b == pytest.approx(2 * sv.a, rel=1e-5)
    assert row[col].text == f"+{sv.delta:.4g}"
    assert layer.metrics["stable_rank"].delta == pytest.approx(0.0, abs=1e-6)
    unchanged = [c for c in compare.compared.layers if c.info.name != changed]
    assert all(c.change == pytest.approx(0.0, abs=1e-9) for c in unchanged)
    compare.table.sortByColumn(headers.index("Δ log norm"), Qt.SortOrder.DescendingOrder)
    assert compare.shown_layers()[0] == changed
    x_a, _ = compare.curves["A"].getData()
    x_b, _ = compare.curves["B"].getData()
    assert len(x_a) == len(x_b) == effective_bins(24, BINS) + 1
    assert x_b[0] == pytest.approx(x_a[0] + np.log10(4.0), abs=1e-6)
    save_screenshot(compare, "26_compare_checkpoints")
    compare.close()


def test_compare_refuses_another_architecture(qtbot, window, tmp_path, bert_folder):
    tensors = bert_like()
    del tensors["pooler.dense.weight"]
    other = write_sharded(tmp_path / "no-pooler", tensors, shards=1)
    compare = window.compare(bert_folder, other)
    qtbot.waitUntil(lambda: "not the same architecture" in compare.header.text(), timeout=60_000)
    assert "pooler.dense.weight" in compare.header.text()
    compare.close()


def test_replay_slider_changes_the_shown_step(qtbot, window, tmp_path):
    run_dir = write_run(tmp_path / "run")
    drop(window, [run_dir])
    assert window.tabs.count() == 0
    replay = window.compare_views[-1]
    assert [step.step for step in replay.run.steps] == [0, 30, 60]
    assert replay.cursors[0].value() == 0
    hist_before, _ = replay.hist.getData()
    replay.slider.setValue(2)
    assert "step 60" in replay.step_label.text() and "final" in replay.step_label.text()
    assert replay.cursors[0].value() == replay.cursors[1].value() == 60
    step = replay.run.steps[2]
    layer = step.layer("fc1.weight")
    assert layer.fit["n_signal"] == 3
    assert replay.cutoff.value() == pytest.approx(np.log10(layer.fit["lambda_plus"]))
    hist_after, _ = replay.hist.getData()
    assert hist_after[-1] > hist_before[-1]
    assert f"{layer.ww.alpha:.4g}" in replay.table.text()
    curve = replay.run.fit_curve("fc1.weight", "n_signal")
    assert curve[2] == 3 and curve[0] < curve[1] < curve[2]
    drawn = replay.curve_plot.getPlotItem().listDataItems()[0].getData()
    np.testing.assert_array_equal(drawn[0], [0, 30, 60])
    np.testing.assert_array_equal(drawn[1], curve)
    save_screenshot(replay, "27_replay_run")
    replay.close()


def test_replay_refuses_a_folder_without_spectra(qtbot, window, tmp_path):
    (tmp_path / "empty-run" / "spectra.jsonl").parent.mkdir()
    (tmp_path / "empty-run" / "spectra.jsonl").write_text("{not json\n")
    assert window.replay(tmp_path / "empty-run") is None
    assert "line 1 is not JSON" in window.message.text()
