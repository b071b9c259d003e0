"""MNIST evaluation with progress, as a generator a UI runs in a worker thread.

The worker first says it is loading the test split (the first load in a worker reads the idx
files and can take seconds), then evaluates it in chunks through the core's :func:`evaluate`,
yielding a progress message between chunks, so a cancel request takes effect within one chunk.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from torch import nn

from rmt_gui.jobs.control import CancelToken
from rmt_gui.model.data import MnistSplit, download_mnist, load_mnist
from rmt_gui.model.evaluate import EVAL_BATCH, EvalResult, evaluate
from rmt_gui.model.surgery import detached_copy


@dataclass(frozen=True)
class EvalProgress:
    """How far an evaluation is: ``loading`` the test images, then ``done`` of ``total``
    images evaluated (``total == 0`` while loading: the count is not known yet)."""

    done: int
    total: int
    phase: Literal["loading", "evaluating"] = "evaluating"


def test_split(root: str | Path, count: int | None = None) -> MnistSplit:
    """The first ``count`` MNIST test images under ``root`` (all when ``None``)."""
    return load_mnist(root, train=False).head(count)


def evaluate_job(
    model: nn.Module,
    root: str | Path,
    count: int | None,
    token: CancelToken,
    batch_size: int = EVAL_BATCH,
) -> Iterator[EvalProgress | EvalResult]:
    """Yield the loading phase, progress per chunk (from 0), then the :class:`EvalResult` of
    the whole slice, its ``seconds`` counting the loading too."""
    start = time.perf_counter()
    yield EvalProgress(0, 0, "loading")
    data = test_split(root, count)
    own = detached_copy(model)
    total, correct, loss_sum = len(data), 0, 0.0
    yield EvalProgress(0, total)
    for lo in range(0, total, batch_size):
        token.check()
        hi = min(lo + batch_size, total)
        part = evaluate(own, MnistSplit(data.images[lo:hi], data.labels[lo:hi]), batch_size)
        correct += round(part.accuracy * part.count)
        loss_sum += part.loss * part.count
        yield EvalProgress(hi, total)
    yield EvalResult(correct / total, loss_sum / total, total, time.perf_counter() - start)


def download_job(root: str | Path, token: CancelToken) -> Iterator[Path]:
    """Download MNIST into ``root`` and yield the folder once it is complete."""
    token.check()
    folder = Path(root).expanduser()
    download_mnist(folder)
    yield folder
