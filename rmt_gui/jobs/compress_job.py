"""Compress a model to a parameter budget, and the accuracy–size curve, as generators of events.

The pipeline (issue 13): calibrate (input Grams of every chosen linear layer over training
images), decompose each layer (plain SVD, or SVD-LLM's activation-whitened SVD,
:mod:`rmt_gui.model.whitening`), measure a sensitivity curve per layer on a validation split held
out of the MNIST *training* set, allocate ranks under the budget (:mod:`rmt_gui.model.allocation`),
rebuild as factor pairs, and fine-tune (:mod:`rmt_gui.jobs.finetune`). The test set is never seen.

Every event is frozen and holds plain numbers, strings and tuples (no tensor, no module), so a
UI thread can take it as it is. :meth:`Compressor.compress` ends with a :class:`CompressResult`
and leaves the model in :attr:`Compressor.compressed`; :meth:`Compressor.curve` yields a
:class:`CurveStart`, the BEMA point, then one :class:`CurvePoint` per method and budget as each
is measured (plain SVD first, then whitened, then whitened + fine-tune: the slowest last).
Intermediate results (Grams, decompositions, sensitivity curves) are cached on the instance,
so a curve after a compression, or a second budget, costs only the new points.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar

from torch import nn

from rmt_gui.errors import RmtGuiError
from rmt_gui.jobs.control import CancelToken
from rmt_gui.jobs.finetune import FinetuneStep, finetune
from rmt_gui.model.allocation import (
    LayerCost,
    Sensitivity,
    allocate,
    apply_ranks,
    sensitivity_points,
    smallest_size,
    tensor_count,
)
from rmt_gui.model.calibration import input_grams
from rmt_gui.model.data import MnistSplit
from rmt_gui.model.decomposition import GramSVD
from rmt_gui.model.evaluate import EvalResult, check_runnable, evaluate
from rmt_gui.model.module_layers import linear_modules
from rmt_gui.model.pruning import LayerPlan, factorize_blocker, plan
from rmt_gui.model.rule import PruneRule
from rmt_gui.model.surgery import get_weight, is_factor_layer
from rmt_gui.model.whitening import whitened_decomposition

Method = Literal["svd", "whitened"]
METHODS: tuple[Method, ...] = ("svd", "whitened")
TUNED = "whitened+finetune"
VALIDATION_SIZE = 5_000
CALIBRATION_SIZE = 2_048
FINETUNE_STEPS = 500
CURVE_FINETUNE_STEPS = 30
CURVE_FRACTIONS = (0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15, 0.20, 0.30, 0.50)
SEARCH_STEPS = 10
"""Bisection steps of ``--max-drop`` over the kept fraction: a resolution of about 0.1%."""
BEMA_RULE = PruneRule("bema", factorize="if_smaller")
"""The data-free rule of ``rmt-gui prune --bema --factorize`` (docs/method.md §4, alg 0)."""

T = TypeVar("T")


class CompressError(RmtGuiError):
    """The compression cannot be set up (too little data, a bad target)."""


@dataclass(frozen=True)
class CompressData:
    """Calibration, validation and fine-tune images, all from the MNIST training split.

    Validation is the last ``validation`` images; calibration the first ``calibration`` of the
    rest; the fine-tune uses all of the rest.
    """

    calibration: MnistSplit
    validation: MnistSplit
    train: MnistSplit

    @classmethod
    def from_training(
        cls,
        train: MnistSplit,
        validation: int = VALIDATION_SIZE,
        calibration: int = CALIBRATION_SIZE,
    ) -> CompressData:
        """Split the training split as above; :class:`CompressError` when it is too small."""
        if validation < 1 or calibration < 1:
            raise CompressError("validation and calibration need at least one image each")
        if len(train) <= validation:
            raise CompressError(
                f"{len(train)} training images leave none beside {validation} for validation"
            )
        cut = len(train) - validation
        rest = MnistSplit(train.images[:cut], train.labels[:cut])
        held = MnistSplit(train.images[cut:], train.labels[cut:])
        return cls(rest.head(calibration), held, rest)


@dataclass(frozen=True)
class Target:
    """How small: a kept ``fraction`` of the parameters, BEMA's ranks, or an accuracy drop.

    ``max_drop`` is in accuracy points (percent): the smallest model whose validation accuracy
    is at most that much below the original's.
    """

    fraction: float | None = None
    bema: bool = False
    max_drop: float | None = None

    def __post_init__(self) -> None:
        """Exactly one of the three, in range."""
        if (self.fraction is not None) + self.bema + (self.max_drop is not None) != 1:
            raise CompressError("give exactly one target: a fraction, bema, or a maximum drop")
        if self.fraction is not None and not (
            math.isfinite(self.fraction) and 0 < self.fraction <= 1
        ):
            raise CompressError(f"--target-params must be in (0, 1] or bema, got {self.fraction}")
        if self.max_drop is not None and not (math.isfinite(self.max_drop) and self.max_drop >= 0):
            raise CompressError(f"--max-drop must be a number of points >= 0, got {self.max_drop}")

    def describe(self) -> str:
        """A short summary for history entries and reports."""
        if self.bema:
            return "BEMA ranks"
        if self.fraction is not None:
            return f"{self.fraction:g} of the parameters"
        return f"within {self.max_drop:g} points of the validation accuracy"


@dataclass(frozen=True)
class Stage:
    """A step of the pipeline begins (``calibrating``, ``sensitivity``, ``fine-tuning``, ...)."""

    name: str
    detail: str = ""


@dataclass(frozen=True)
class SensitivityPoint:
    """Validation accuracy and loss with only ``layer`` truncated to ``rank`` by ``method``."""

    method: Method
    layer: str
    rank: int
    params: int
    val_accuracy: float
    val_loss: float


@dataclass(frozen=True)
class LayerRank:
    """One compressed layer: its chosen rank (``None``: left dense), BEMA's n_signal, sizes."""

    layer: str
    shape: tuple[int, int]
    rank: int | None
    n_signal: int
    params_before: int
    params_after: int

    @property
    def factorized(self) -> bool:
        return self.rank is not None


@dataclass(frozen=True)
class CompressResult:
    """The last event of :meth:`Compressor.compress`: ranks, sizes, validation before/after."""

    method: Method
    target: str
    finetune_steps: int
    params_before: int
    params_after: int
    layers: tuple[LayerRank, ...]
    val_accuracy_before: float
    val_accuracy_after: float
    val_loss_before: float
    val_loss_after: float
    validation_count: int


@dataclass(frozen=True)
class CurveStart:
    """First event of a curve: the original model's size and validation accuracy (a line)."""

    params_before: int
    val_accuracy: float
    fractions: tuple[float, ...]
    methods: tuple[str, ...]


@dataclass(frozen=True)
class CurvePoint:
    """One point of the accuracy–size curve (``method`` is ``svd``, ``whitened``,
    ``whitened+finetune`` or ``bema``); ``ranks`` as ``(layer, rank or None)`` pairs."""

    method: str
    fraction: float | None
    params: int
    kept: float
    val_accuracy: float
    val_loss: float
    ranks: tuple[tuple[str, int | None], ...]


CompressEvent = Stage | SensitivityPoint | FinetuneStep | CompressResult | CurveStart | CurvePoint
Ranks = dict[str, int | None]


def compressible_layers(model: nn.Module) -> list[str]:
    """Weight keys of every dense linear layer (not already one factor of a pair)."""
    layers = [f"{path}.weight" for path, _ in linear_modules(model) if path]
    return [layer for layer in layers if not is_factor_layer(model, layer)]


def factor_pairs(model: nn.Module) -> list[str]:
    """Module paths of the factorised pairs already in ``model`` (kept as they are)."""
    pairs = (
        path.rpartition(".")[0]
        for path, _ in linear_modules(model)
        if path and is_factor_layer(model, f"{path}.weight")
    )
    return list(dict.fromkeys(pairs))


def chosen_layers(model: nn.Module, layers: list[str] | None) -> list[str]:
    """``layers`` (default: every dense linear layer), or a :class:`CompressError` saying why
    they cannot be compressed (not dense linear layers, none left, a TorchScript model)."""
    dense = compressible_layers(model)
    chosen = list(layers) if layers else dense
    odd = [layer for layer in chosen if layer not in dense]
    if odd:
        raise CompressError(
            f"{', '.join(odd)}: not a dense linear layer (one factor of a pair, a bias or "
            f"a convolution); compressible: {', '.join(dense) or 'none'}"
        )
    if not chosen:
        pairs = factor_pairs(model)
        raise CompressError(
            f"every linear layer is already a factor pair ({', '.join(pairs)}): compress "
            "the original model instead"
            if pairs
            else "the model has no dense linear layer to compress"
        )
    blocked = factorize_blocker(model)
    if blocked:
        raise CompressError(f"{blocked}: compress its weights saved as a state dict instead")
    return chosen


class Compressor:
    """Compression of one runnable model; iterate its generators on the thread that owns it."""

    def __init__(
        self,
        model: nn.Module,
        data: CompressData,
        layers: list[str] | None = None,
        cancel: CancelToken | None = None,
        seed: int = 0,
    ) -> None:
        check_runnable(model)
        self.model = model
        self.data = data
        self.layers = chosen_layers(model, layers)
        self.cancel = cancel or CancelToken()
        self.seed = seed
        self.costs = [LayerCost.of(model, layer) for layer in self.layers]
        self.params_before = tensor_count(model)
        self.fixed = self.params_before - sum(cost.dense for cost in self.costs)
        self.compressed: nn.Module | None = None
        self._baseline: EvalResult | None = None
        self._plans: dict[str, LayerPlan] | None = None
        self._decompositions: dict[Method, dict[str, GramSVD]] = {}
        self._curves: dict[Method, dict[str, Sensitivity]] = {}

    def validate(self, model: nn.Module) -> EvalResult:
        """Validation accuracy and loss of ``model`` (cancellable between batches)."""
        return evaluate(model, self.data.validation, progress=self.cancel.progress_callback())

    @property
    def baseline(self) -> EvalResult:
        """The original model on the validation split (measured once)."""
        if self._baseline is None:
            self._baseline = self.validate(self.model)
        return self._baseline

    @property
    def bema_plans(self) -> dict[str, LayerPlan]:
        """``prune --bema --factorize``'s plan of each layer (n_signal and its rank)."""
        if self._plans is None:
            self._plans = {p.layer: p for p in plan(self.model, self.layers, BEMA_RULE)}
        return self._plans

    def bema_ranks(self) -> Ranks:
        """The data-free BEMA ranks; ``None`` where prune would not factorise the layer."""
        return {
            layer: p.rank if p.factorize and not p.skipped else None
            for layer, p in self.bema_plans.items()
        }

    def smallest_fraction(self) -> float:
        """The smallest kept fraction any allocation reaches (every layer at rank 1)."""
        return smallest_size(self.costs, self.fixed) / self.params_before

    def budget(self, fraction: float) -> int:
        """The parameter budget of a kept ``fraction``, rounded down."""
        return math.floor(fraction * self.params_before + 1e-6)

    def check_budget(self, fraction: float) -> None:
        """A :class:`CompressError` naming the smallest fraction when ``fraction`` is below it."""
        floor = smallest_size(self.costs, self.fixed)
        if self.budget(fraction) < floor:
            pairs = factor_pairs(self.model)
            kept = f"; the factor pairs {', '.join(pairs)} stay as they are" if pairs else ""
            raise CompressError(
                f"keeping {fraction:g} of the {self.params_before:,} parameters is below the "
                f"smallest model ({floor:,} parameters with every layer at rank "
                f"1, {self.smallest_fraction():.4g} of them{kept})"
            )

    def decompositions(self, method: Method) -> Generator[CompressEvent, None, dict[str, GramSVD]]:
        """Each layer's decomposition by ``method`` (whitened ones calibrate first)."""
        if method not in self._decompositions:
            if method == "svd":
                found = {layer: GramSVD.of(get_weight(self.model, layer)) for layer in self.layers}
            else:
                calibration = self.data.calibration
                yield Stage("calibrating", f"{len(calibration)} training images")
                grams = input_grams(
                    self.model, calibration, self.layers, progress=self.cancel.progress_callback()
                )
                yield Stage("whitening", f"{len(self.layers)} layers")
                found = {
                    layer: whitened_decomposition(self.model, layer, gram)
                    for layer, gram in grams.items()
                }
            self._decompositions[method] = found
        return self._decompositions[method]

    def sensitivities(
        self, method: Method
    ) -> Generator[CompressEvent, None, dict[str, Sensitivity]]:
        """Each layer's validation curve by ``method``, yielding every measured point."""
        if method not in self._curves:
            decompositions = yield from self.decompositions(method)
            base = self.baseline
            curves = {}
            for cost in self.costs:
                yield Stage("sensitivity", f"{method}: {cost.layer}")
                points = []
                for rank, result in sensitivity_points(
                    self.model, cost, decompositions[cost.layer], self.data.validation
                ):
                    self.cancel.check()
                    points.append((rank, result))
                    yield SensitivityPoint(
                        method, cost.layer, rank, cost.params(rank), result.accuracy, result.loss
                    )
                curves[cost.layer] = Sensitivity(
                    cost.layer,
                    tuple(rank for rank, _ in points),
                    tuple(r.loss for _, r in points),
                    tuple(r.accuracy for _, r in points),
                    base.loss,
                )
            self._curves[method] = curves
        return self._curves[method]

    def allocation(self, method: Method, fraction: float) -> Generator[CompressEvent, None, Ranks]:
        """The ranks that fit ``fraction`` of the parameters with the least validation loss."""
        self.check_budget(fraction)
        curves = yield from self.sensitivities(method)
        return allocate(self.costs, curves, self.budget(fraction), self.fixed)

    def build(self, method: Method, ranks: Ranks) -> Generator[CompressEvent, None, nn.Module]:
        """The model with ``ranks`` applied by ``method`` (the original is left intact)."""
        decompositions = yield from self.decompositions(method)
        model, _ = apply_ranks(self.model, ranks, decompositions)
        return model

    def floor(self, drop: float) -> float:
        """The least validation accuracy within ``drop`` points of the original's."""
        return self.baseline.accuracy - drop / 100

    def _within_drop(self, method: Method, drop: float) -> Generator[CompressEvent, None, Ranks]:
        """The smallest allocation whose validation accuracy is within ``drop`` points."""
        floor = self.floor(drop)
        low, high = self.smallest_fraction(), 1.0
        best: Ranks = dict.fromkeys(self.layers)
        for step in range(SEARCH_STEPS + 1):
            fraction = low if step == 0 else (low + high) / 2
            ranks = yield from self.allocation(method, fraction)
            accuracy = self.validate((yield from self.build(method, ranks))).accuracy
            yield Stage("searching", f"{fraction:.2%} of the parameters: {accuracy:.2%}")
            if accuracy >= floor:
                best, high = ranks, fraction
                if step == 0:
                    break
            elif step > 0:
                low = fraction
        return best

    def _ranks_for(self, target: Target, method: Method) -> Generator[CompressEvent, None, Ranks]:
        """The ranks ``target`` asks for."""
        if target.bema:
            return self.bema_ranks()
        if target.fraction is not None:
            return (yield from self.allocation(method, target.fraction))
        return (yield from self._within_drop(method, float(target.max_drop or 0.0)))

    def _tuned(self, model: nn.Module, steps: int) -> Generator[CompressEvent, None, nn.Module]:
        """``model`` after ``steps`` fine-tune steps (itself when ``steps`` is 0)."""
        if steps <= 0:
            return model
        yield Stage("fine-tuning", f"{steps} steps")
        return (yield from finetune(model, self.data.train, steps, self.cancel, self.seed))

    def _rows(self, ranks: Ranks) -> tuple[LayerRank, ...]:
        """One :class:`LayerRank` per layer."""
        plans = self.bema_plans
        return tuple(
            LayerRank(
                cost.layer,
                cost.shape,
                ranks[cost.layer],
                plans[cost.layer].n_signal,
                cost.dense,
                cost.params(ranks[cost.layer]),
            )
            for cost in self.costs
        )

    def compress(
        self, target: Target, method: Method = "whitened", finetune_steps: int = FINETUNE_STEPS
    ) -> Iterator[CompressEvent]:
        """Compress to ``target``; ends with :class:`CompressResult` (model in ``compressed``).

        Nothing is fine-tuned when every layer stays dense (the model is then the original);
        under ``max_drop`` a fine-tuned model that validates below the floor is dropped for the
        untuned one the search found within it (``finetune_steps`` then reads 0).
        """
        if method not in METHODS:
            raise CompressError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
        base = self.baseline
        ranks = yield from self._ranks_for(target, method)
        steps = finetune_steps if any(rank is not None for rank in ranks.values()) else 0
        built = yield from self.build(method, ranks)
        model = yield from self._tuned(built, steps)
        after = self.validate(model)
        if steps and target.max_drop is not None and after.accuracy < self.floor(target.max_drop):
            yield Stage("note", "the fine-tune fell below the --max-drop floor: kept untuned")
            model, after, steps = built, self.validate(built), 0
        self.compressed = model
        yield CompressResult(
            method, target.describe(), steps, self.params_before, tensor_count(model),
            self._rows(ranks), base.accuracy, after.accuracy, base.loss, after.loss,
            len(self.data.validation),
        )  # fmt: skip

    def _point(
        self, method: str, fraction: float | None, ranks: Ranks, model: nn.Module
    ) -> CurvePoint:
        """The curve point of ``model`` (validated now)."""
        result = self.validate(model)
        params = tensor_count(model)
        return CurvePoint(
            method, fraction, params, params / self.params_before, result.accuracy, result.loss,
            tuple(ranks.items()),
        )  # fmt: skip

    def curve(
        self,
        fractions: tuple[float, ...] = CURVE_FRACTIONS,
        finetune_steps: int = CURVE_FINETUNE_STEPS,
    ) -> Iterator[CompressEvent]:
        """Validation accuracy against parameters kept for each method, point by point.

        Fractions below the smallest reachable model are left out (a :class:`Stage` says so).
        """
        floor = smallest_size(self.costs, self.fixed)
        feasible = tuple(f for f in fractions if self.budget(f) >= floor)
        if len(feasible) < len(fractions):
            yield Stage("note", f"fractions below {self.smallest_fraction():.2%} cannot be reached")
        methods = (*METHODS, TUNED) if finetune_steps > 0 else METHODS
        yield CurveStart(self.params_before, self.baseline.accuracy, feasible, methods)
        bema = self.bema_ranks()
        yield self._point("bema", None, bema, (yield from self.build("svd", bema)))
        whitened = []
        for method in METHODS:
            for fraction in feasible:
                ranks = yield from self.allocation(method, fraction)
                model = yield from self.build(method, ranks)
                yield self._point(method, fraction, ranks, model)
                if method == "whitened":
                    whitened.append((fraction, ranks, model))
        for fraction, ranks, model in whitened if finetune_steps > 0 else ():
            tuned = yield from self._tuned(model, finetune_steps)
            yield self._point(TUNED, fraction, ranks, tuned)


def drain(events: Generator[CompressEvent, None, T]) -> T:
    """Run a generator to its end, dropping its events, and return its value."""
    while True:
        try:
            next(events)
        except StopIteration as stop:
            return stop.value
