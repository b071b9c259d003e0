"""The rank sweep evaluates as many ranks as it is asked for, its marked ranks among them."""

from __future__ import annotations

from itertools import pairwise

import pytest

from rmt_gui.jobs.sweep import sweep_ranks


@pytest.mark.parametrize("spacing", ["log", "linear"])
@pytest.mark.parametrize(("p", "points", "marks"), [(784, 16, (6, 1)), (64, 16, (30, 45)),
                                                    (20, 16, (6, 3)), (64, 4, (5, 9)),
                                                    (500, 64, (250,))])  # fmt: skip
def test_the_count_shown_is_the_count_evaluated(p, points, marks, spacing) -> None:
    ranks = sweep_ranks(p, points, marks, spacing)
    assert len(ranks) == points == len(set(ranks))
    assert ranks == sorted(ranks) and ranks[-1] == p
    assert ranks[0] == (1 if spacing == "log" else 0)
    assert set(marks) <= set(ranks)


def test_a_small_layer_sweeps_every_rank() -> None:
    assert sweep_ranks(5, 16, [2]) == [1, 2, 3, 4, 5]
    assert sweep_ranks(5, 16, [2], "linear") == [0, 1, 2, 3, 4, 5]


def test_log_ranks_spread_geometrically() -> None:
    ranks = sweep_ranks(784, 16)
    ratios = [b / a for a, b in pairwise(ranks[4:])]
    assert max(ratios) / min(ratios) < 1.2
