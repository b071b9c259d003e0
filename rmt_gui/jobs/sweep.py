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
    """``points`` distinct ranks (at most ``p``, or ``p + 1`` from 0): geometric from 1 to
    ``p``, or linear from 0 to ``p``, each marked rank in place of the inner grid rank nearest
    to it, so a sweep evaluates exactly as many ranks as it was asked for.

    The linear grid starts at ``k = 0`` (the layer zeroed), as the paper's figure does.
    """
    count = max(2, min(points, p + (spacing == "linear")))
    if spacing == "linear":
        grid = np.unique(np.linspace(0, p, num=count).round().astype(int)).tolist()
    else:
        grid = _geometric_grid(p, count)
    keep = sorted({int(m) for m in marks if 1 <= int(m) <= p} - set(grid))
    scale = np.log if spacing == "log" else np.asarray
    fixed = {grid[0], grid[-1], *keep}
    for mark in keep:
        inner = [r for r in grid if r not in fixed]
        if inner:
            grid.remove(inner[int(np.argmin(np.abs(scale(inner) - scale(mark))))])
        grid.append(mark)
    return sorted(grid)


def _geometric_grid(p: int, count: int) -> list[int]:
    """``count`` distinct integers from 1 to ``p`` (``count <= p``), about evenly spaced on a
    log scale: each step is geometric towards ``p`` over the steps left, and at least 1."""
    ranks = [1]
    while len(ranks) < count:
        left = count - len(ranks)
        step = round(ranks[-1] * (p / ranks[-1]) ** (1 / left))
        ranks.append(min(max(ranks[-1] + 1, step), p - left + 1))
    return ranks


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
