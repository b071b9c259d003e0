"""The Compress tab's curve state: arrival, series order, typed budgets and the CSV."""

from __future__ import annotations

import csv

import pytest

from rmt_gui.jobs.compress_job import CurvePoint, CurveStart, Stage
from rmt_gui.state.compress import CSV_COLUMNS, CurveState, ranks_text


def point(method: str, fraction: float | None, params: int, accuracy: float) -> CurvePoint:
    """A point of a 1,000-parameter model with one layer at rank ``params // 100``."""
    rank = params // 100
    return CurvePoint(method, fraction, params, params / 1000, accuracy, 1 - accuracy,
                      (("fc1.weight", rank), ("fc2.weight", None)))  # fmt: skip


def filled() -> CurveState:
    """A curve with BEMA's point and two SVD points, received out of size order."""
    state = CurveState()
    state.add(CurveStart(1000, 0.98, (0.1, 0.3), ("svd", "whitened")))
    state.add(Stage("sensitivity", "svd: fc1.weight"))
    for event in (point("bema", None, 600, 0.97), point("svd", 0.3, 290, 0.9),
                  point("svd", 0.1, 95, 0.5)):  # fmt: skip
        state.add(event)
    return state


def test_points_arrive_and_series_are_sorted_by_size() -> None:
    state = filled()
    assert state.total == 5 and not state.complete
    assert state.stage == "sensitivity: svd: fc1.weight"
    assert [p.params for p in state.series("svd")] == [95, 290]
    x, y = state.xy("svd")
    assert x.tolist() == pytest.approx([9.5, 29.0]) and y.tolist() == pytest.approx([50.0, 90.0])
    assert state.bema is not None and state.bema.params == 600
    assert state.xy("whitened")[0].size == 0


def test_typed_budget_picks_the_largest_point_within_it() -> None:
    state = filled()
    assert state.within("svd", 0.3).params == 290
    assert state.within("svd", 0.2).params == 95
    assert state.within("svd", 0.05) is None
    assert state.within("whitened", 1.0) is None


def test_csv_holds_every_point_with_its_ranks() -> None:
    rows = list(csv.reader(filled().csv_text().splitlines()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 4
    bema = rows[1]
    assert bema[0] == "bema" and bema[1] == "" and bema[2] == "600"
    assert rows[2][1] == "0.3" and float(rows[2][4]) == 0.9
    assert rows[2][6] == "fc1.weight=2;fc2.weight=dense"
    assert ranks_text((("a", 1),)) == "a=1"
