"""The compare view's delta table: readable headers and signed changes."""

from __future__ import annotations

from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.model.compare import LayerComparison, MetricChange
from rmt_gui.state.compare_table import delta_headers, delta_rows


def comparison() -> LayerComparison:
    """One layer whose σ², λ₊, alpha and an unlisted metric changed."""
    metrics = {
        "sigma2": MetricChange(1.0, 2.0),
        "lambda_plus": MetricChange(4.0, 3.0),
        "alpha": MetricChange(3.0, None),
        "spike_gap": MetricChange(0.5, 0.75),
    }
    return LayerComparison(LayerInfo("fc1.weight", (10, 8), 80, "float32"), metrics, (True, True))


def test_headers_name_metrics_as_the_rest_of_the_app_does() -> None:
    headers = delta_headers([comparison()])
    assert headers[3:] == ["Δ σ²", "Δ λ₊", "Δ α", "Δ spike gap"]


def test_cells_show_signed_changes_and_dashes_where_undefined() -> None:
    (row,) = delta_rows([comparison()])
    texts = [cell.text for cell in row[3:]]
    assert texts[0].startswith("+1") and texts[1].startswith("-1") and texts[2] == "—"
    assert row[3].tip.startswith("σ²: A 1") and row[5].tip.startswith("α: A 3")
