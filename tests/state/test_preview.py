"""The pruning preview: the planner caps ranks and decides splits; rows and summary agree."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rmt_gui.model.jit import quiet_jit
from rmt_gui.model.pruning import LayerPlan, factorize_blocker, plan
from rmt_gui.model.rule import PruneRule
from rmt_gui.model.surgery import truncate
from rmt_gui.state.preview import plans_to_apply, preview_rows, summarize


def _plan(rank: int, current: int, shape=(64, 784), split: bool = False, skipped: str = ""):
    """A plan as the planner makes it (bias of ``shape[0]``; split only when rank drops)."""
    before = shape[0] * shape[1] + shape[0]
    after = rank * sum(shape) + shape[0] if split else before
    return LayerPlan(
        "fc", shape, current, rank, 5, skipped != "poor", split, before, after, skipped
    )


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def test_rows_count_only_rank_drops() -> None:
    rows = preview_rows((
        _plan(40, 40), _plan(30, 40, split=True), _plan(30, 40), _plan(64, 64, skipped="poor"),
    ))  # fmt: skip
    assert [(r.rank_before, r.rank_after, r.changed, r.note) for r in rows] == [
        (40, 40, False, "unchanged"), (40, 30, True, "factorised"), (40, 30, True, ""),
        (64, 64, False, "poor"),
    ]  # fmt: skip
    assert plans_to_apply(rows) == (rows[1].plan, rows[2].plan)
    total = summarize(rows, 200_000)
    saved = 64 * 784 - 30 * (64 + 784)
    assert (total.params_after, total.changed, total.layers, total.factorised) == (
        200_000 - saved, 2, 4, 1,
    )  # fmt: skip
    assert summarize((), 0).share == 100.0


@settings(max_examples=40)
@given(rank=st.integers(0, 64), current=st.integers(1, 64), skipped=st.sampled_from(["", "x"]))
def test_a_row_is_changed_exactly_when_its_rank_drops(rank: int, current: int, skipped: str):
    kept = min(rank, current)
    (row,) = preview_rows((_plan(kept, current, split=kept < current, skipped=skipped),))
    assert row.changed == (not skipped and kept < current)
    assert ("unchanged" in row.note) == (not skipped and kept == current)


def test_the_planner_caps_at_the_current_rank_and_splits_only_when_it_drops() -> None:
    model, _ = truncate(_mlp(), "0.weight", 5, "never")
    wide = PruneRule("rank", rank=30, factorize="if_smaller")
    (capped,) = preview_rows(tuple(plan(model, ["0.weight"], wide)))
    assert (capped.rank_before, capped.rank_after, capped.plan.factorize) == (5, 5, False)
    assert not capped.changed and capped.note.startswith("unchanged")
    narrow = PruneRule("rank", rank=3, factorize="if_smaller")
    (split,) = preview_rows(tuple(plan(model, ["0.weight"], narrow)))
    assert (split.rank_after, split.plan.factorize, split.changed) == (3, True, True)
    assert split.note.startswith("factorised")
    assert split.plan.params_after == 3 * (64 + 784) + 64


def test_a_torchscript_model_is_never_planned_as_split() -> None:
    model = _mlp()
    with quiet_jit():
        scripted = torch.jit.script(model)
        (item,) = plan(scripted, ["0.weight"], PruneRule("rank", rank=3, factorize="if_smaller"))
    assert factorize_blocker(scripted) and not factorize_blocker(model)
    assert (item.rank, item.factorize, item.params_after) == (3, False, item.params_before)
