"""Spectral analysis of every layer of an opened model file, one layer at a time.

Spectra are cached by the weight's content, so a layer seen before (in this file or another,
or before an undo) is never decomposed twice.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.spectral import DEFAULT_ALPHA, DEFAULT_BETA, LayerAnalysis, analyze_spectrum
from rmt_gui.spectral.bema import Variant
from rmt_gui.spectral.spectrum import Spectrum, spectrum_of


@dataclass(frozen=True)
class LayerFailure:
    """A layer that could not be analysed, with the reason (e.g. NaN weights)."""

    info: LayerInfo
    problem: str


class SpectrumCache:
    """Least-recently-used cache of spectra keyed by a hash of the weight's bytes and shape."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, Spectrum] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(matrix: np.ndarray) -> str:
        """Content key: dtype, shape and a BLAKE2 digest of the bytes."""
        data = np.ascontiguousarray(matrix)
        digest = hashlib.blake2b(memoryview(data).cast("B"), digest_size=16).hexdigest()
        return f"{data.dtype}:{data.shape}:{digest}"

    def spectrum(self, matrix: np.ndarray) -> Spectrum:
        """The spectrum of ``matrix``, computed at most once per content."""
        key = self.key(matrix)
        if key in self._items:
            self.hits += 1
            self._items.move_to_end(key)
            return self._items[key]
        self.misses += 1
        spec = spectrum_of(matrix)
        self._items[key] = spec
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return spec


DEFAULT_CACHE = SpectrumCache()


def analyze_layers(
    checkpoint: Checkpoint,
    names: list[str] | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    variant: Variant = "paper",
    cache: SpectrumCache = DEFAULT_CACHE,
) -> Iterator[LayerAnalysis | LayerFailure]:
    """Yield one analysis (or failure) per layer, in model order; consumers may stop at any time."""
    for info in checkpoint.layers():
        if names is not None and info.name not in names:
            continue
        matrix = checkpoint.read(info.name)
        try:
            spec = cache.spectrum(matrix)
        except ValueError as exc:
            yield LayerFailure(info, str(exc))
            continue
        yield analyze_spectrum(
            info.name, spec, info.params, alpha=alpha, beta=beta, variant=variant
        )
