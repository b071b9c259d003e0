"""Synthetic plot data for the spectrum items' tests."""

from __future__ import annotations

import numpy as np

from rmt_gui.state.plot_data import PlotOptions, SpectrumPlotData


def spectrum_data(low: float, high: float, peak: float) -> SpectrumPlotData:
    """A 20-bin histogram on ``[low, high]`` (log10 axis) peaking at ``peak``, no MP curve."""
    edges = np.linspace(low, high, 21)
    density = peak * np.sin(np.linspace(0.1, np.pi - 0.1, 20))
    values = 10.0 ** np.linspace(high, low, 50)
    return SpectrumPlotData(
        values, edges, density, np.zeros(0), np.zeros(0), high - 0.1, high - 0.2,
        np.log10(values[:2]), PlotOptions(),
    )  # fmt: skip
