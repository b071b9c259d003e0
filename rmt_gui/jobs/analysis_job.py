"""Open a model file and analyse its layers, as generators a UI runs in a worker.

Every message is immutable and holds numpy copies (spectra are read-only arrays), so it can
cross threads. Models are never mutated here: surgery returns new models, so a model handed
to the UI thread stays valid while other jobs read it. :func:`open_job` is the worker-process
form of :func:`open_and_analyze`: its model crosses as data (:mod:`rmt_gui.jobs.model_transfer`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rmt_gui.errors import RmtGuiError
from rmt_gui.jobs.control import CancelToken, PauseGate
from rmt_gui.jobs.model_transfer import (
    FileRecord,
    ModelData,
    model_from_data,
    model_to_data,
    record_of,
)
from rmt_gui.model.analysis import LowRankUpdate, SpectrumCache
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.evaluate import check_runnable
from rmt_gui.model.formats.torch_files import TrustRequiredError
from rmt_gui.model.layers import TensorMeta, layers_from_tensors
from rmt_gui.model.module_layers import is_linear, layers_from_module
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.pruning import LayerPlan, PruneRule, apply_plan, plan
from rmt_gui.model.surgery import (
    LayerChange,
    SurgeryError,
    get_weight,
    numerical_rank,
    owner_of,
    parameter_count,
)
from rmt_gui.model.threads import set_threads
from rmt_gui.spectral import DEFAULT_ALPHA, DEFAULT_BETA, LayerAnalysis, analyze_spectrum
from rmt_gui.spectral.spectrum import Spectrum
from rmt_gui.spectral.ww_metrics import WWMetrics


class LockedCache(SpectrumCache):
    """A :class:`SpectrumCache` that several worker threads can share."""

    def __init__(self, capacity: int = 512) -> None:
        super().__init__(capacity)
        self._lock = threading.Lock()

    def spectrum(self, matrix: np.ndarray) -> Spectrum:
        """The cached spectrum of ``matrix``; one decomposition at a time."""
        with self._lock:
            return super().spectrum(matrix)

    def remember(self, matrix: np.ndarray, spectrum: Spectrum) -> None:
        """Store ``spectrum`` as that of ``matrix`` (computed elsewhere, e.g. in a worker)."""
        with self._lock:
            super().remember(matrix, spectrum)


APP_CACHE = LockedCache()


@dataclass(frozen=True)
class Opened:
    """A freshly opened file: its record, the model built from it, and why it cannot run."""

    checkpoint: FileRecord
    model: nn.Module
    layers: tuple[LayerInfo, ...]
    not_runnable: str


@dataclass(frozen=True)
class NeedsTrust:
    """The file holds a pickled object: the user must agree before it is unpickled.

    ``names`` are the ``module.name`` globals the pickle would import and call.
    """

    path: Path
    problem: str
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenedData:
    """:class:`Opened` as it leaves a worker process: the model as data."""

    checkpoint: FileRecord
    model: ModelData
    layers: tuple[LayerInfo, ...]
    not_runnable: str

    def rebuilt(self) -> Opened:
        """The :class:`Opened` of this file, its model rebuilt here from the data."""
        model = model_from_data(self.model)
        return Opened(self.checkpoint, model, self.layers, self.not_runnable)


@dataclass(frozen=True)
class LayerReport:
    """One layer of a model state: analysis (or why it failed), numerical rank, prunability.

    An adapter update has no analysis (no noise bulk to fit) but its ``update``: its singular
    values from the factors (:class:`~rmt_gui.model.analysis.LowRankUpdate`). ``metrics`` are
    WeightWatcher's (:mod:`rmt_gui.spectral.ww_metrics`) of an analysed layer.
    """

    info: LayerInfo
    analysis: LayerAnalysis | None
    problem: str
    rank: int
    prunable: bool
    update: LowRankUpdate | None = None
    metrics: WWMetrics | None = None

    @property
    def name(self) -> str:
        return self.info.name

    @classmethod
    def analysed(cls, info: LayerInfo, analysis: LayerAnalysis, prunable: bool) -> LayerReport:
        """The report of a layer whose spectrum was analysed (its numerical rank read off it)."""
        spectrum = analysis.spectrum
        rank = numerical_rank(torch.from_numpy(spectrum.singular_values.copy()), spectrum.shape)
        return cls(info, analysis, "", rank, prunable)

    @classmethod
    def adapter_update(cls, info: LayerInfo, spectrum: Spectrum) -> LayerReport:
        """The report of an adapter update: its singular values, no fit, not prunable."""
        update = LowRankUpdate(info, float(spectrum.singular_values[0]), spectrum)
        return cls(info, None, "", len(update.values), False, update)


def limit_threads() -> None:
    """Leave the UI thread a core: torch's pool and numpy's BLAS get ``cpu_count - 1`` threads."""
    set_threads(max(1, (os.cpu_count() or 2) - 1))


def layers_of(model: nn.Module, record: FileRecord) -> tuple[LayerInfo, ...]:
    """The layers of ``model`` (a state of the file ``record``), found as its reader finds them."""
    if record.modules:
        return tuple(layers_from_module(model))
    metas = (TensorMeta(k, tuple(v.shape), str(v.dtype)) for k, v in model.state_dict().items())
    return tuple(layers_from_tensors(metas))


def with_adapter_ranks(
    layers: tuple[LayerInfo, ...], checkpoint: Checkpoint
) -> tuple[LayerInfo, ...]:
    """``layers`` (named ``M.weight`` in the built model) marked with the rank of each adapter
    update ``M`` of ``checkpoint``."""
    ranks = {i.name: i.adapter_rank for i in checkpoint.layers() if i.adapter_rank is not None}
    return tuple(
        replace(info, adapter_rank=ranks[base])
        if (base := info.name.removesuffix(".weight")) in ranks else info
        for info in layers
    )  # fmt: skip


def runnable_problem(model: nn.Module) -> str:
    """Empty when ``model`` can be evaluated, else the reason it cannot."""
    try:
        check_runnable(model)
    except RmtGuiError as exc:
        return str(exc)
    return ""


def is_prunable(model: nn.Module, name: str) -> bool:
    """Whether ``name`` is the weight of a linear layer that surgery can truncate."""
    try:
        return name.endswith("weight") and is_linear(owner_of(model, name))
    except SurgeryError:
        return False


def analyze_layer(
    model: nn.Module,
    info: LayerInfo,
    cache: SpectrumCache = APP_CACHE,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
) -> LayerReport:
    """Spectrum, BEMA fit and numerical rank of one layer of ``model`` (an adapter update: its
    spectrum only)."""
    prunable = is_prunable(model, info.name)
    weight = get_weight(model, info.name).cpu().float().numpy()
    try:
        spectrum = cache.spectrum(weight)
    except ValueError as exc:
        return LayerReport(info, None, str(exc), 0, prunable)
    if info.adapter_rank is not None:
        return LayerReport.adapter_update(info, spectrum)
    analysis = analyze_spectrum(info.name, spectrum, info.params, alpha=alpha, beta=beta)
    return replace(LayerReport.analysed(info, analysis, prunable), metrics=analysis.ww)


def analyze_model(
    model: nn.Module,
    layers: tuple[LayerInfo, ...],
    token: CancelToken,
    cache: SpectrumCache = APP_CACHE,
    checkpoint: Checkpoint | None = None,
) -> Iterator[LayerReport]:
    """Yield one :class:`LayerReport` per layer, checking for cancellation between layers.

    With the ``checkpoint`` the model was built from, adapter updates are decomposed from their
    factors (:meth:`Checkpoint.low_rank_spectrum`), not from the dense matrix.
    """
    for info in layers:
        token.check()
        base = info.name.removesuffix(".weight")
        factored = None
        if checkpoint is not None and info.adapter_rank is not None:
            factored = checkpoint.low_rank_spectrum(base)
        if factored is not None:
            yield LayerReport.adapter_update(info, factored)
            continue
        try:
            report = analyze_layer(model, info, cache)
        except (MemoryError, RuntimeError) as exc:
            if sys.version_info >= (3, 11):  # notes name the layer in the out-of-memory line
                exc.add_note(f"reading layer {info.name}")
            raise
        yield report


def open_and_analyze(
    path: str | Path, trust: bool, token: CancelToken, cache: SpectrumCache = APP_CACHE
) -> Iterator[Opened | NeedsTrust | LayerReport]:
    """Yield :class:`Opened` then each layer's report, or :class:`NeedsTrust` and stop.

    A pickle whose class could not be rebuilt even if trusted (``__main__.Net``) is no
    question for the user: it fails with its one-line reason.
    """
    limit_threads()
    try:
        checkpoint = open_checkpoint(path, trust=trust)
    except TrustRequiredError as exc:
        if not exc.can_rebuild:
            raise
        yield NeedsTrust(Path(path), str(exc), exc.globals)
        return
    token.check()
    model = checkpoint.build_model()
    record = record_of(checkpoint)
    layers = with_adapter_ranks(layers_of(model, record), checkpoint)
    yield Opened(record, model, layers, runnable_problem(model))
    yield from analyze_model(model, layers, token, cache, checkpoint)


def open_job(
    cancel: CancelToken, pause: PauseGate, path: str | Path, trust: bool
) -> Iterator[OpenedData | NeedsTrust | LayerReport]:
    """:func:`open_and_analyze` in a worker process: the opened model is sent as data.

    A module that crosses as weights only (it could not be scripted) is shown as such.
    """
    for item in open_and_analyze(path, trust, cancel):
        if not isinstance(item, Opened):
            yield item
            continue
        data = model_to_data(item.model)
        record = item.checkpoint
        if record.modules and not data.script:
            record = FileRecord(record.path, record.format, record.detail, record.history)
        yield OpenedData(record, data, item.layers, item.not_runnable or data.note)


@dataclass(frozen=True)
class Preview:
    """The plan of a pruning rule on one model state (values only, nothing applied)."""

    model: nn.Module
    rule: PruneRule
    plans: tuple[LayerPlan, ...]
    params_before: int

    @property
    def params_after(self) -> int:
        """Parameters of the whole model once the plans are applied."""
        saved = sum(p.params_before - p.params_after for p in self.plans if not p.skipped)
        return self.params_before - saved


@dataclass(frozen=True)
class Applied:
    """The model a plan produced and what changed in each layer."""

    base: nn.Module
    model: nn.Module
    changes: tuple[LayerChange, ...]


def planned_weight(model: nn.Module, layer: str) -> np.ndarray:
    """The array of ``layer`` that planning decomposes (float64 kept, else float32)."""
    tensor = get_weight(model, layer).detach().cpu()
    return (tensor if tensor.dtype == torch.float64 else tensor.float()).numpy()


def preview_job(
    model: nn.Module,
    layers: list[str],
    rule: PruneRule,
    token: CancelToken,
    known: Mapping[str, Spectrum] | None = None,
) -> Iterator[Preview]:
    """Plan ``rule`` on ``layers`` from cached spectra (decomposing any layer not seen yet).

    ``known`` spectra (analysed in a worker process, of float32 weights) are put in the cache
    first, for the layers whose planned weight is float32 too.
    """
    token.check()
    for name, spectrum in (known or {}).items():
        weight = planned_weight(model, name)
        if weight.dtype == np.float32:
            APP_CACHE.remember(weight, spectrum)
    plans = tuple(plan(model, layers, rule, APP_CACHE))
    yield Preview(model, rule, plans, parameter_count(model))


def apply_job(
    model: nn.Module, plans: tuple[LayerPlan, ...], rule: PruneRule, token: CancelToken
) -> Iterator[Applied]:
    """Apply a preview's plans layer by layer (one SVD each), cancellable between layers."""
    current, changes = model, []
    for item in plans:
        token.check()
        current, done = apply_plan(current, [item], rule)
        changes.extend(done)
    yield Applied(model, current, tuple(changes))
