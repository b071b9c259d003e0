"""Spectrum snapshots: values match the spectral core (to the float32 route's accuracy), failures
reach the training thread."""

import numpy as np
import pytest
import torch

from rmt_gui.jobs.config import PruneConfig, SnapshotPolicy
from rmt_gui.jobs.snapshots import SnapshotError, SpectrumSampler
from rmt_gui.model.tree import build_mlp
from rmt_gui.spectral import bema_fit, spectrum_of
from tests.helpers.cutoff_spikes import spike_at_cutoff


@pytest.mark.parametrize("background", [False, True])
def test_snapshot_carries_spectra_and_fits(background: bool) -> None:
    model = build_mlp([784, 40, 10], seed=2)
    sampler = SpectrumSampler(SnapshotPolicy(every_steps=1, background=background), PruneConfig())
    sampler.request(7, 0.5, model, final=True)
    with torch.no_grad():
        model.fc1.weight.zero_()
    (snapshot,) = sampler.drain()
    sampler.close()
    assert (snapshot.step, snapshot.epochs_done, snapshot.final) == (7, 0.5, True)
    fc1 = snapshot.layers[0]
    reference = spectrum_of(build_mlp([784, 40, 10], seed=2).fc1.weight.detach().numpy())
    # the float32 route: each value within 1e-6 of the top, the fit within 1e-6, the same count
    top = reference.singular_values[0]
    np.testing.assert_allclose(fc1.singular_values, reference.singular_values, atol=1e-6 * top)
    fit = bema_fit(reference)
    assert fc1.fit.n_signal == fit.n_signal and fc1.fit.good_fit == fit.good_fit
    assert fc1.fit.sigma2 == pytest.approx(fit.sigma2, rel=1e-6)
    assert fc1.fit.lambda_plus == pytest.approx(fit.lambda_plus, rel=1e-6)
    assert [layer.layer for layer in snapshot.layers] == ["fc1.weight", "fc2.weight"]


@pytest.mark.parametrize("background", [False, True])
def test_nan_weights_raise_on_the_training_thread(background: bool) -> None:
    model = build_mlp([784, 40, 10], seed=2)
    with torch.no_grad():
        model.fc2.weight[0, 0] = float("nan")
    sampler = SpectrumSampler(SnapshotPolicy(every_steps=1, background=background), PruneConfig())
    with pytest.raises(SnapshotError, match=r"fc2\.weight: .*NaN.* at step 3"):
        sampler.request(3, 0.1, model)
        sampler.drain()
    sampler.close()


def test_due_follows_the_period_and_the_gate() -> None:
    sampler = SpectrumSampler(SnapshotPolicy(every_steps=5), PruneConfig())
    assert [s for s in range(1, 21) if sampler.due(s)] == [5, 10, 15, 20]
    gated = SpectrumSampler(SnapshotPolicy(max_per_second=1e-9), PruneConfig())
    assert [s for s in range(1, 21) if gated.due(s)] == [1]
    assert not any(SpectrumSampler(SnapshotPolicy(), PruneConfig()).due(s) for s in range(1, 5))


@pytest.mark.parametrize("offset", [1e-5, -1e-5])
def test_a_spike_at_the_cutoff_is_counted_as_in_float64(offset: float) -> None:
    weight = spike_at_cutoff((200, 784), PruneConfig().fit, offset)
    model = build_mlp([784, 200, 10], seed=0)
    with torch.no_grad():
        model.fc1.weight.copy_(torch.from_numpy(weight))
    sampler = SpectrumSampler(SnapshotPolicy(every_steps=1, background=False), PruneConfig())
    sampler.request(1, 0.1, model)
    (snapshot,) = sampler.drain()
    reference = PruneConfig().fit(spectrum_of(weight.astype(np.float64)))
    assert snapshot.layers[0].fit.n_signal == reference.n_signal == (2 if offset > 0 else 1)
