"""Open a model file and analyse its layers, as generators a UI runs in a worker thread.

Every message is immutable and holds numpy copies (spectra are read-only arrays), so it can
cross threads. Models are never mutated here: surgery returns new models, so a model handed
to the UI thread stays valid while other jobs read it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rmt_gui.errors import RmtGuiError
from rmt_gui.jobs.control import CancelToken
from rmt_gui.model.analysis import SpectrumCache
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.evaluate import check_runnable
from rmt_gui.model.formats.torch_files import ModuleCheckpoint, TrustRequiredError
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
from rmt_gui.spectral import DEFAULT_ALPHA, DEFAULT_BETA, LayerAnalysis, analyze_spectrum
from rmt_gui.spectral.spectrum import Spectrum


class LockedCache(SpectrumCache):
    """A :class:`SpectrumCache` that several worker threads can share."""

    def __init__(self, capacity: int = 512) -> None:
        super().__init__(capacity)
        self._lock = threading.Lock()

    def spectrum(self, matrix: np.ndarray) -> Spectrum:
        """The cached spectrum of ``matrix``; one decomposition at a time."""
        with self._lock:
            return super().spectrum(matrix)


APP_CACHE = LockedCache()


@dataclass(frozen=True)
class Opened:
    """A freshly opened file: its reader, the model built from it, and why it cannot run (if so)."""

    checkpoint: Checkpoint
    model: nn.Module
    layers: tuple[LayerInfo, ...]
    not_runnable: str


@dataclass(frozen=True)
class NeedsTrust:
    """The file holds a pickled object: the user must agree before it is unpickled."""

    path: Path
    problem: str


@dataclass(frozen=True)
class LayerReport:
    """One layer of a model state: analysis (or why it failed), numerical rank, prunability."""

    info: LayerInfo
    analysis: LayerAnalysis | None
    problem: str
    rank: int
    prunable: bool

    @property
    def name(self) -> str:
        return self.info.name

    @classmethod
    def analysed(cls, info: LayerInfo, analysis: LayerAnalysis, prunable: bool) -> LayerReport:
        """The report of a layer whose spectrum was analysed (its numerical rank read off it)."""
        spectrum = analysis.spectrum
        rank = numerical_rank(torch.from_numpy(spectrum.singular_values.copy()), spectrum.shape)
        return cls(info, analysis, "", rank, prunable)


def limit_threads() -> None:
    """Leave the UI thread a core: torch's intra-op pool gets ``cpu_count - 1`` threads."""
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))


def layers_of(model: nn.Module, checkpoint: Checkpoint) -> tuple[LayerInfo, ...]:
    """The layers of ``model`` (a state of ``checkpoint``), found as its reader finds them."""
    if isinstance(checkpoint, ModuleCheckpoint):
        return tuple(layers_from_module(model))
    metas = (TensorMeta(k, tuple(v.shape), str(v.dtype)) for k, v in model.state_dict().items())
    return tuple(layers_from_tensors(metas))


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
    """Spectrum, BEMA fit and numerical rank of one layer of ``model``."""
    prunable = is_prunable(model, info.name)
    weight = get_weight(model, info.name).cpu().float().numpy()
    try:
        spectrum = cache.spectrum(weight)
    except ValueError as exc:
        return LayerReport(info, None, str(exc), 0, prunable)
    analysis = analyze_spectrum(info.name, spectrum, info.params, alpha=alpha, beta=beta)
    return LayerReport.analysed(info, analysis, prunable)


def analyze_model(
    model: nn.Module,
    layers: tuple[LayerInfo, ...],
    token: CancelToken,
    cache: SpectrumCache = APP_CACHE,
) -> Iterator[LayerReport]:
    """Yield one :class:`LayerReport` per layer, checking for cancellation between layers."""
    for info in layers:
        token.check()
        yield analyze_layer(model, info, cache)


def open_and_analyze(
    path: str | Path, trust: bool, token: CancelToken, cache: SpectrumCache = APP_CACHE
) -> Iterator[Opened | NeedsTrust | LayerReport]:
    """Yield :class:`Opened` then each layer's report, or :class:`NeedsTrust` and stop."""
    limit_threads()
    try:
        checkpoint = open_checkpoint(path, trust=trust)
    except TrustRequiredError as exc:
        yield NeedsTrust(Path(path), str(exc))
        return
    token.check()
    model = checkpoint.build_model()
    layers = layers_of(model, checkpoint)
    yield Opened(checkpoint, model, layers, runnable_problem(model))
    yield from analyze_model(model, layers, token, cache)


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


def preview_job(
    model: nn.Module, layers: list[str], rule: PruneRule, token: CancelToken
) -> Iterator[Preview]:
    """Plan ``rule`` on ``layers`` from cached spectra (decomposing any layer not seen yet)."""
    token.check()
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
