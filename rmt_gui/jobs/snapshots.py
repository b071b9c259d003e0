"""Spectrum snapshots of every linear layer during training, in line or on a helper thread.

The training thread only copies the weights to the CPU (a few MB, well under a millisecond); the
spectra and BEMA fits are computed from that copy by the float32 Gram route of
:func:`~rmt_gui.model.fast_spectrum.float32_spectrum` (each eigenvalue typically within 1e-6 of
the top of the float64 one, always within its stated bound), with the spike count the float64
one (:func:`~rmt_gui.model.fast_spectrum.confirmed_fit`); float64 weights take the exact route.
On the helper thread (at idle priority, and single-threaded so that it stays off the training
thread's core) the copy waits in a one-slot mailbox: a newer request replaces one not yet
started, so a slow consumer or a busy machine gets fewer snapshots, never a slower training loop.
"""

from __future__ import annotations

import threading
import time
from functools import partial

import torch
from torch import nn

from rmt_gui.errors import RmtGuiError
from rmt_gui.jobs.config import PruneConfig, SnapshotPolicy
from rmt_gui.jobs.control import RateGate
from rmt_gui.jobs.cutting import linear_weights
from rmt_gui.jobs.events import LayerSpectrum, SpectrumSnapshot
from rmt_gui.jobs.process_worker import idle_thread_priority
from rmt_gui.model.decomposition import training_dtype
from rmt_gui.model.fast_spectrum import RoutedSpectrum, confirmed_fit, float32_spectrum
from rmt_gui.model.surgery import get_weight
from rmt_gui.model.threads import single_threaded
from rmt_gui.spectral import BemaResult, Spectrum, spectrum_of

Weights = tuple[tuple[str, torch.Tensor], ...]
CPU = torch.device("cpu")


class SnapshotError(RmtGuiError):
    """A layer's spectrum could not be computed (e.g. the weights became NaN)."""


def copy_weights(model: nn.Module) -> Weights:
    """Detached CPU copies of every linear weight (narrow floats widened to float32), safe to read
    on another thread."""
    copies = []
    for layer in linear_weights(model):
        weight = get_weight(model, layer).detach()
        copies.append((layer, weight.to("cpu", training_dtype(weight), copy=True)))
    return tuple(copies)


def _fitted_spectrum(weight: torch.Tensor, fit: PruneConfig) -> tuple[Spectrum, BemaResult]:
    """The spectrum and BEMA fit of one copied weight (``ValueError`` for NaN or inf)."""
    matrix = weight.numpy()
    if weight.dtype == torch.float64:
        routed = RoutedSpectrum(spectrum_of(matrix), 0.0)
    else:
        routed = float32_spectrum(matrix, CPU)
    return confirmed_fit(matrix, routed, fit.fit, partial(spectrum_of, matrix), CPU)


def compute_snapshot(
    step: int, epochs_done: float, weights: Weights, fit: PruneConfig, final: bool = False
) -> SpectrumSnapshot:
    """Spectra and BEMA fits of copied weights."""
    start = time.perf_counter()
    layers = []
    for layer, weight in weights:
        try:
            spectrum, result = _fitted_spectrum(weight, fit)
        except ValueError as exc:
            raise SnapshotError(f"{layer}: {exc} at step {step}") from exc
        layers.append(LayerSpectrum(layer, spectrum, result))
    return SpectrumSnapshot(
        step, epochs_done, tuple(layers), time.perf_counter() - start, final=final
    )


class SpectrumSampler:
    """Decides when a snapshot is due and produces it per a :class:`SnapshotPolicy`."""

    def __init__(self, policy: SnapshotPolicy, fit: PruneConfig) -> None:
        self.policy = policy
        self._fit = fit
        self._gate = RateGate(policy.max_per_second) if policy.max_per_second else None
        self._cond = threading.Condition()
        self._pending: tuple[int, float, Weights, bool] | None = None
        self._busy = False
        self._ready: list[SpectrumSnapshot] = []
        self._error: BaseException | None = None
        self._stop = False
        self._thread: threading.Thread | None = None

    def due(self, step: int) -> bool:
        """Whether a periodic snapshot should be taken after ``step`` (consumes a gate slot)."""
        every = self.policy.every_steps
        if not self.policy.periodic or (every is not None and step % every):
            return False
        return self._gate is None or self._gate.ready()

    def request(self, step: int, epochs_done: float, model: nn.Module, final: bool = False) -> None:
        """Copy the weights now and compute their spectra (here, or on the helper thread)."""
        weights = copy_weights(model)
        if not self.policy.background:
            self._ready.append(compute_snapshot(step, epochs_done, weights, self._fit, final))
            return
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="rmt-gui-spectra", daemon=True
                )
                self._thread.start()
            self._pending = (step, epochs_done, weights, final)
            self._cond.notify_all()

    def collect(self) -> list[SpectrumSnapshot]:
        """Snapshots finished since the last call (never blocks); re-raises a helper failure."""
        if not self._ready and self._error is None:
            return []
        with self._cond:
            ready, self._ready = self._ready, []
            error, self._error = self._error, None
        if error is not None:
            raise error
        return ready

    def drain(self) -> list[SpectrumSnapshot]:
        """Wait for pending work, then return every snapshot not yet collected."""
        with self._cond:
            while self._thread is not None and (self._pending is not None or self._busy):
                self._cond.wait(0.1)
        return self.collect()

    def close(self) -> None:
        """Stop the helper thread (pending work is dropped)."""
        with self._cond:
            self._stop = True
            self._pending = None
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10.0)

    def _work(self) -> None:
        """Helper thread: compute the latest request, forever, until closed. It runs at idle
        priority, so that the training thread and the app's UI thread come first (fewer
        snapshots on a busy machine, never a slower step)."""
        idle_thread_priority()
        while True:
            with self._cond:
                while self._pending is None and not self._stop:
                    self._cond.wait()
                if self._stop or self._pending is None:  # None only when stopped
                    return
                step, epochs_done, weights, final = self._pending
                self._pending = None
                self._busy = True
            try:
                with single_threaded():
                    snapshot = compute_snapshot(step, epochs_done, weights, self._fit, final)
            except BaseException as exc:  # handed to the training thread by collect()
                with self._cond:
                    self._error, self._busy = exc, False
                    self._cond.notify_all()
                continue
            with self._cond:
                self._ready.append(snapshot)
                self._busy = False
                self._cond.notify_all()
