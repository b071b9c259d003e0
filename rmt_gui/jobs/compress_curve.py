"""The app's Compress tab in a worker process: the accuracy–size curve, and one point rebuilt.

Both jobs take the model first and the cancel token last, so they run through
:func:`rmt_gui.jobs.model_transfer.model_job` like the rank sweep. Images come from the MNIST
*training* split only (:class:`rmt_gui.jobs.compress_job.CompressData`); the test set is left
to the tab's usual Evaluate button.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from rmt_gui.jobs.compress_job import (
    CALIBRATION_SIZE,
    CURVE_FINETUNE_STEPS,
    CURVE_FRACTIONS,
    TUNED,
    VALIDATION_SIZE,
    CompressData,
    Compressor,
    CurvePoint,
    CurveStart,
    Method,
    Stage,
    drain,
)
from rmt_gui.jobs.control import CancelToken
from rmt_gui.jobs.finetune import finetune
from rmt_gui.jobs.model_transfer import ModelData, model_to_data
from rmt_gui.model.allocation import apply_ranks, tensor_count
from rmt_gui.model.data import load_mnist
from rmt_gui.model.surgery import LayerChange


@dataclass(frozen=True)
class CurveSetup:
    """How much data the curve uses: the first ``train_images`` of the training split
    (``None``: all of it), split into ``validation`` held out and ``calibration`` images."""

    train_images: int | None = None
    validation: int = VALIDATION_SIZE
    calibration: int = CALIBRATION_SIZE
    finetune_steps: int = CURVE_FINETUNE_STEPS
    fractions: tuple[float, ...] = CURVE_FRACTIONS
    seed: int = 0

    def data(self, root: str | Path) -> CompressData:
        """The calibration, validation and fine-tune splits under ``root``."""
        train = load_mnist(root, train=True).head(self.train_images)
        return CompressData.from_training(train, self.validation, self.calibration)


@dataclass(frozen=True)
class BuiltPoint:
    """A curve point rebuilt as a model (sent as data) with what it did to each layer."""

    point: CurvePoint
    model: ModelData
    changes: tuple[LayerChange, ...]
    params: int


def curve_job(
    model: nn.Module, root: str, setup: CurveSetup, cancel: CancelToken
) -> Iterator[Stage | CurveStart | CurvePoint]:
    """The curve's stages and points as :meth:`Compressor.curve` measures them (the many
    per-rank sensitivity and fine-tune step events stay in the worker)."""
    compressor = Compressor(model, setup.data(root), cancel=cancel, seed=setup.seed)
    for event in compressor.curve(setup.fractions, setup.finetune_steps):
        if isinstance(event, Stage | CurveStart | CurvePoint):
            yield event


def build_point_job(
    model: nn.Module, root: str, setup: CurveSetup, point: CurvePoint, cancel: CancelToken
) -> Iterator[Stage | BuiltPoint]:
    """``point``'s ranks applied to ``model`` by its method (fine-tuned again for the tuned
    curve, with the curve's seed and steps), ready to become a history step."""
    compressor = Compressor(model, setup.data(root), cancel=cancel, seed=setup.seed)
    method: Method = "svd" if point.method in ("svd", "bema") else "whitened"
    yield Stage("rebuilding", f"{point.method} at {point.kept:.1%} of the parameters")
    decompositions = drain(compressor.decompositions(method))
    built, changes = apply_ranks(model, dict(point.ranks), decompositions)
    if point.method == TUNED:
        yield Stage("fine-tuning", f"{setup.finetune_steps} steps")
        built = drain(finetune(built, compressor.data.train, setup.finetune_steps, cancel,
                               setup.seed))  # fmt: skip
    yield BuiltPoint(point, model_to_data(built), tuple(changes), tensor_count(built))
