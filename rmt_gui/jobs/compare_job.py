"""Compare two checkpoints for the app: the layer-by-layer metric changes and both spectra.

The changes are :func:`rmt_gui.model.compare.compare_checkpoints` (what ``rmt-gui compare``
prints); the spectra (singular values of each layer in A and B, from the analysis cache, so
each layer is decomposed once) let the view overlay them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rmt_gui.jobs.control import CancelToken
from rmt_gui.model.analysis import DEFAULT_CACHE
from rmt_gui.model.checkpoint import Checkpoint
from rmt_gui.model.compare import LayerComparison, compare_checkpoints
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.spectral.spectrum import Spectrum


@dataclass(frozen=True)
class Compared:
    """Checkpoints A and B compared: every layer's changes, largest first, and its spectra."""

    path_a: Path
    path_b: Path
    layers: tuple[LayerComparison, ...]
    spectra: dict[str, tuple[Spectrum | None, Spectrum | None]]


def _spectrum(checkpoint: Checkpoint, name: str) -> Spectrum | None:
    """Layer ``name``'s spectrum (an adapter update's from its factors), ``None`` if refused."""
    try:
        factored = checkpoint.low_rank_spectrum(name)
        return DEFAULT_CACHE.spectrum(checkpoint.read(name)) if factored is None else factored
    except ValueError:
        return None


def compare_job(token: CancelToken, path_a: str | Path, path_b: str | Path) -> Iterator[Compared]:
    """Open both checkpoints (never unpickling code), compare them, and collect the spectra."""
    a, b = open_checkpoint(path_a), open_checkpoint(path_b)
    token.check()
    layers = tuple(compare_checkpoints(a, b))
    spectra = {}
    for layer in layers:
        token.check()
        name = layer.info.name
        spectra[name] = (_spectrum(a, name), _spectrum(b, name))
    yield Compared(Path(path_a), Path(path_b), layers, spectra)
