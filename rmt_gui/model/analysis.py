"""Spectral analysis of every layer of an opened model file, one layer at a time.

Spectra are cached by the weight's content, so a layer seen before (in this file or another,
or before an undo) is never decomposed twice. Layers with fewer than ``min_fit_p`` eigenvalues
may be listed without a fit (:class:`UnfittedLayer`), so a file of many tiny tensors stays fast.

The spectrum's route is chosen per layer (:mod:`rmt_gui.model.fast_spectrum`): small layers take
the exact float64 numpy route, large ones float32 on the chosen device with the spike count made
exact; a layer whose count the inertia check refutes is recomputed by the exact route.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.fast_spectrum import (
    RoutedSpectrum,
    confirmed_fit,
    float32_spectrum,
    uses_float32,
)
from rmt_gui.spectral import DEFAULT_ALPHA, DEFAULT_BETA, LayerAnalysis
from rmt_gui.spectral.analysis import top_singular_values
from rmt_gui.spectral.bema import BemaResult, Variant, bema_fit
from rmt_gui.spectral.estimators import gavish_donoho_rank
from rmt_gui.spectral.low_rank import numerical_rank
from rmt_gui.spectral.spectrum import Spectrum, spectrum_of
from rmt_gui.spectral.ww_metrics import METRIC_KEYS

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class LayerFailure:
    """A layer that could not be analysed, with the reason (e.g. NaN weights)."""

    info: LayerInfo
    problem: str


@dataclass(frozen=True)
class UnfittedLayer:
    """A layer listed with its largest singular value but not fitted: too few eigenvalues."""

    info: LayerInfo
    sv_max: float

    @property
    def note(self) -> str:
        """Why there is no fit, e.g. ``too small to fit: p = 2 eigenvalues``."""
        p = min(self.info.shape)
        return f"too small to fit: p = {p} eigenvalue{'' if p == 1 else 's'}"

    def to_json(self) -> dict[str, Any]:
        """The record of :meth:`LayerAnalysis.to_json` with the fit's fields ``None``."""
        return {
            "name": self.info.name,
            "shape": list(self.info.shape),
            "params": self.info.params,
            "sv_max": self.sv_max,
            **dict.fromkeys(UNFITTED_FIELDS),
            "note": self.note,
        }


UNFITTED_FIELDS = (
    "n_signal", "sigma2", "lambda_plus", "sv_threshold", "fit_error", "good_fit",
    "rank_gavish_donoho", *METRIC_KEYS,
)  # fmt: skip
"""The fields of a layer record that a layer without a fit has as ``None``."""


@dataclass(frozen=True)
class LowRankUpdate(UnfittedLayer):
    """An adapter update ``ΔW = scale · B · A`` of rank at most ``r``: listed, not fitted.

    Its spectrum is ``r`` values and ``min(out, in) - r`` exact zeros: there is no noise bulk,
    so an MP/BEMA fit would invent one. The record gives the update's singular values and
    ``n_signal`` = its numerical rank (every non-zero value is signal); the fit's fields are
    ``None``.
    """

    spectrum: Spectrum

    @property
    def values(self) -> list[float]:
        """The update's non-zero singular values (at most ``r``), descending."""
        s = self.spectrum.singular_values
        return s[: numerical_rank(s)].tolist()

    @property
    def note(self) -> str:
        """What the record is and why it has no fit."""
        return (
            f"adapter update of rank <= {self.info.adapter_rank}: no noise bulk for an MP fit; "
            "n_signal is its numerical rank"
        )

    def to_json(self) -> dict[str, Any]:
        """The unfitted record with ``n_signal`` the rank and ``singular_values`` the update's."""
        values = self.values
        return {**super().to_json(), "n_signal": len(values), "singular_values": values}


BATCH_LAYERS = 4096
"""Layers too small to fit whose largest singular values are computed in one batched call."""
BATCH_VALUES = 1 << 22
"""Weights one such batch may hold (32 MB in float64)."""


CPU = "cpu"
"""The default device: a name, so this module loads without torch (the CLI starts fast)."""


class SpectrumCache:
    """Least-recently-used cache of spectra keyed by a hash of the weight's bytes and shape.

    Exact spectra and float32 ones (:class:`RoutedSpectrum`) are kept apart, so
    :meth:`spectrum` always answers with the exact route.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, Spectrum] = OrderedDict()
        self._float32: OrderedDict[str, RoutedSpectrum] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(matrix: np.ndarray) -> str:
        """Content key: dtype, shape and a SHA-256 digest of the bytes (2.4x BLAKE2b's speed
        where the CPU has SHA instructions: 2.2 ms for a 1000x784 float32 weight).

        ``dtype.str`` (``<f4``) is an attribute; ``str(dtype)`` costs more than a small digest.
        """
        data = np.ascontiguousarray(matrix)
        digest = hashlib.sha256(data.data.cast("B")).hexdigest()
        return f"{data.dtype.str}:{data.shape}:{digest}"

    def spectrum(self, matrix: np.ndarray) -> Spectrum:
        """The spectrum of ``matrix``, computed at most once per content."""
        return self._exact(matrix, self.key(matrix))

    def _exact(self, matrix: np.ndarray, key: str) -> Spectrum:
        """The exact spectrum of ``matrix`` under its content ``key`` (hashed once per call)."""
        if key in self._items:
            self.hits += 1
            self._items.move_to_end(key)
            return self._items[key]
        self.misses += 1
        spec = spectrum_of(matrix)
        self._store(self._items, key, spec)
        return spec

    def remember(self, matrix: np.ndarray, spectrum: Spectrum) -> None:
        """Store ``spectrum`` as the exact spectrum of ``matrix`` (computed elsewhere, e.g. in a
        worker process)."""
        self._store(self._items, self.key(matrix), spectrum)

    def _store(self, items: OrderedDict, key: str, value: object) -> None:
        """Put ``value`` under ``key`` as the most recent entry; drop the oldest past capacity."""
        items[key] = value
        items.move_to_end(key)
        if len(items) > self._capacity:
            items.popitem(last=False)

    def routed(self, matrix: np.ndarray, device: str | torch.device = CPU) -> RoutedSpectrum:
        """The spectrum by the route chosen for the layer's size: exact if known or small."""
        key = self.key(matrix)
        if key in self._items or not uses_float32(matrix.shape):
            return RoutedSpectrum(self._exact(matrix, key), 0.0)
        if key in self._float32:
            self.hits += 1
            self._float32.move_to_end(key)
            return self._float32[key]
        self.misses += 1
        routed = float32_spectrum(matrix, device)
        self._store(self._float32, key, routed)
        return routed


DEFAULT_CACHE = SpectrumCache()


def checked_fit(
    matrix: np.ndarray,
    fit: Callable[[Spectrum], BemaResult],
    cache: SpectrumCache = DEFAULT_CACHE,
    device: str | torch.device = CPU,
) -> tuple[Spectrum, BemaResult]:
    """``(spectrum, fit(spectrum))`` with ``n_signal`` equal to the float64 route's.

    The fit runs on the routed spectrum; when its spike count cannot be confirmed
    (:func:`~rmt_gui.model.fast_spectrum.confirmed_fit`), the layer is recomputed by the exact
    route (and cached so) and fitted again.
    """
    routed = cache.routed(matrix, device)
    return confirmed_fit(matrix, routed, fit, lambda: cache.spectrum(matrix), device)


def analyze_layer(
    info: LayerInfo,
    matrix: np.ndarray,
    *,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    variant: Variant = "paper",
    cache: SpectrumCache = DEFAULT_CACHE,
    min_fit_p: int = 1,
    device: str | torch.device = CPU,
) -> LayerAnalysis | UnfittedLayer | LayerFailure:
    """One layer's analysis (unfitted below ``min_fit_p`` eigenvalues), or a :class:`LayerFailure`.

    The spectral code raises ``ValueError`` for NaN or infinite weights, values outside
    float64's range and a Tracy-Widom cutoff that cannot be formed; each message is for users.
    """
    try:
        if min(matrix.shape) < min_fit_p:
            return UnfittedLayer(info, float(cache.spectrum(matrix).singular_values[0]))
        spec, fit = checked_fit(
            matrix, lambda s: bema_fit(s, alpha=alpha, beta=beta, variant=variant), cache, device
        )
        return LayerAnalysis(info.name, spec, fit, gavish_donoho_rank(spec), info.params)
    except ValueError as exc:
        return LayerFailure(info, str(exc))


def _batchable(matrix: np.ndarray) -> bool:
    """Whether a weight can join a batch: a float type that float64 holds exactly."""
    return matrix.dtype.kind == "f" and matrix.dtype.itemsize <= 8


def _unfitted_batch(
    batch: list[tuple[LayerInfo, np.ndarray]], cache: SpectrumCache, min_fit_p: int
) -> Iterator[LayerAnalysis | UnfittedLayer | LayerFailure]:
    """The layers of ``batch`` (all too small to fit), in order, their ``sv_max`` computed by shape.

    A weight the batched route marks as refused goes through :func:`analyze_layer`, for the
    spectral code's own message.
    """
    by_shape: dict[tuple[int, int], list[int]] = {}
    for index, (info, _) in enumerate(batch):
        by_shape.setdefault(info.shape, []).append(index)
    top = np.empty(len(batch))
    for indices in by_shape.values():
        top[indices] = top_singular_values(np.stack([batch[i][1] for i in indices]))
    for (info, matrix), sv_max in zip(batch, top.tolist(), strict=True):
        if math.isnan(sv_max):
            yield analyze_layer(info, matrix, cache=cache, min_fit_p=min_fit_p)
        else:
            yield UnfittedLayer(info, sv_max)


def analyze_layers(
    checkpoint: Checkpoint,
    names: list[str] | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    variant: Variant = "paper",
    cache: SpectrumCache = DEFAULT_CACHE,
    min_fit_p: int = 1,
    device: str | torch.device = CPU,
) -> Iterator[LayerAnalysis | UnfittedLayer | LayerFailure]:
    """Yield one analysis (or failure) per layer, in model order; consumers may stop at any time.

    Layers with fewer than ``min_fit_p`` eigenvalues are gathered and listed in batches, so a
    file of 200,000 tiny tensors takes seconds, not minutes.
    """
    batch: list[tuple[LayerInfo, np.ndarray]] = []
    values = 0
    wanted = None if names is None else set(names)
    for info in checkpoint.layers():
        if wanted is not None and info.name not in wanted:
            continue
        low_rank = checkpoint.low_rank_spectrum(info.name)
        if low_rank is not None:
            yield from _unfitted_batch(batch, cache, min_fit_p)
            batch, values = [], 0
            yield LowRankUpdate(info, float(low_rank.singular_values[0]), low_rank)
            continue
        matrix = checkpoint.read(info.name)
        if min(info.shape) < min_fit_p and _batchable(matrix):
            batch.append((info, matrix))
            values += matrix.size
            if len(batch) >= BATCH_LAYERS or values >= BATCH_VALUES:
                yield from _unfitted_batch(batch, cache, min_fit_p)
                batch, values = [], 0
            continue
        yield from _unfitted_batch(batch, cache, min_fit_p)
        batch, values = [], 0
        yield analyze_layer(
            info,
            matrix,
            alpha=alpha,
            beta=beta,
            variant=variant,
            cache=cache,
            min_fit_p=min_fit_p,
            device=device,
        )
    yield from _unfitted_batch(batch, cache, min_fit_p)
