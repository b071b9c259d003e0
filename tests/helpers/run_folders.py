"""Training run folders written by the tests themselves, as ``rmt-gui train --out`` leaves them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmt_gui.jobs.events import EpochEnd, LayerSpectrum, SpectrumSnapshot
from rmt_gui.jobs.run_log import RunLog
from rmt_gui.spectral import bema_fit, spectrum_of


def write_run(folder: Path) -> Path:
    """A run folder as ``rmt-gui train --out`` leaves it: three snapshots, two epochs."""
    folder.mkdir()
    log = RunLog(folder)
    rng = np.random.default_rng(5)
    for step, spikes in ((0, 0), (30, 1), (60, 3)):
        weight = rng.standard_normal((48, 120)) / np.sqrt(120)
        weight[:spikes, :spikes] += 5.0 * np.eye(spikes)
        spectrum = spectrum_of(weight)
        layer = LayerSpectrum("fc1.weight", spectrum, bema_fit(spectrum))
        log.record(SpectrumSnapshot(step, step / 30, (layer,), 0.01, final=step == 60))
    for epoch in (1, 2):
        log.record(EpochEnd(epoch, 30 * epoch, 0.5 / epoch, 0.8, 0.6 / epoch, 0.7 + 0.1 * epoch,
                            5760, 1.0, 0.1, float(epoch)))  # fmt: skip
    log.close()
    return folder
