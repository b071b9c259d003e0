"""Accuracy against the number of singular values kept in one layer (the paper's figure).

The ranks are visited coarse-to-fine, so a sweep stopped early still spans the whole range and
a plot of the points received so far already shows the curve's shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from torch import nn

from rmt_gui.jobs.control import CancelToken
from rmt_gui.jobs.evaluation import test_split
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.surgery import detached_copy, truncate


@dataclass(frozen=True)
class SweepPoint:
    """Accuracy and loss of the model with ``layer`` truncated to ``rank``."""

    layer: str
    rank: int
    accuracy: float
    loss: float
    done: int
    total: int


def sweep_ranks(
    p: int,
    points: int = 16,
    marks: Iterable[int] = (),
    spacing: Literal["log", "linear"] = "log",
) -> list[int]:
    """About ``points`` ranks plus the marked ones: geometric from 1 to ``p``, or linear from 0.

    The linear grid starts at ``k = 0`` (the layer zeroed), as the paper's figure does.
    """
    count = max(2, min(points, p + (spacing == "linear")))
    if spacing == "linear":
        grid = np.unique(np.linspace(0, p, num=count).round().astype(int))
    else:
        grid = np.unique(np.geomspace(1, p, num=count).round().astype(int))
    extra = [int(m) for m in marks if 1 <= int(m) <= p]
    return sorted({*grid.tolist(), *extra})


def coarse_to_fine(ranks: list[int]) -> list[int]:
    """``ranks`` reordered so that every prefix spreads over the whole range."""
    count = len(ranks)
    if count <= 2:
        return list(ranks)
    order = [0, count - 1]
    step = 1 << (count - 1).bit_length()
    while step > 1:
        step //= 2
        order.extend(range(step, count - 1, 2 * step))
    return [ranks[i] for i in order]


def rank_sweep(
    model: nn.Module,
    layer: str,
    ranks: list[int],
    root: str | Path,
    count: int | None,
    token: CancelToken,
) -> Iterator[SweepPoint]:
    """Truncate ``layer`` to each rank (coarse-to-fine) and evaluate on the test set."""
    data = test_split(root, count)
    base = detached_copy(model)
    order = coarse_to_fine(ranks)
    for done, rank in enumerate(order, start=1):
        token.check()
        pruned, _ = truncate(base, layer, rank, "never")
        result = evaluate(pruned, data, progress=token.progress_callback())
        yield SweepPoint(layer, rank, result.accuracy, result.loss, done, len(order))
