"""What a spectrum plot draws, computed by the spectral core and ready to hand to a view.

A view draws these arrays as they are; the only choices made here are which values to show
(the layer's numerically non-zero values: a truncated layer's zeros are not part of its
spectrum, and a log axis could not show them) and fewer bins for small layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from rmt_gui.state.bounds import bounded

if TYPE_CHECKING:
    from rmt_gui.jobs.analysis_job import LayerReport

Scale = Literal["eigen", "singular"]
EMPTY = np.zeros(0)


@dataclass(frozen=True)
class PlotOptions:
    """How to draw a spectrum: value scale, log axis, bin count."""

    scale: Scale = "eigen"
    log: bool = True
    bins: int = bounded(60, 5, 400)


@dataclass(frozen=True)
class SpectrumPlotData:
    """Histogram, MP curve, cutoff/edge positions and spikes on the axis of ``options``."""

    values: NDArray[np.float64]
    edges: NDArray[np.float64]
    density: NDArray[np.float64]
    curve_x: NDArray[np.float64]
    curve_y: NDArray[np.float64]
    cutoff: float
    bulk_edge: float
    spikes: NDArray[np.float64]
    options: PlotOptions

    def axis(self, value: float) -> float:
        """A position on the plotted axis (``log10`` when the axis is logarithmic)."""
        return float(np.log10(value)) if self.options.log else float(value)

    def kept(self, position: float) -> int:
        """How many shown values lie strictly right of ``position`` on the plotted axis."""
        value = 10.0**position if self.options.log else position
        return int(np.count_nonzero(self.values > value))

    def position_for(self, rank: int) -> float:
        """An axis position that keeps exactly ``rank`` values: midway to the next one."""
        v = self.values
        if v.size == 0:
            return 0.0
        if rank <= 0:
            return self.axis(v[0]) + 0.02 * max(1.0, abs(self.axis(v[0])))
        if rank >= v.size:
            return self.axis(v[-1]) - 0.02 * max(1.0, abs(self.axis(v[-1])))
        return (self.axis(v[rank - 1]) + self.axis(v[rank])) / 2.0


def effective_bins(count: int, requested: int) -> int:
    """At most ``requested`` bins, fewer for small layers (about two per sqrt of the count)."""
    return max(1, min(requested, max(8, round(2 * np.sqrt(count)))))


def plot_data(report: LayerReport, options: PlotOptions) -> SpectrumPlotData | None:
    """The arrays to draw for ``report``; ``None`` when the layer has no analysis."""
    from rmt_gui.spectral.histogram import histogram, mp_curve, spectrum_values, to_scale

    analysis = report.analysis
    if analysis is None:
        return None
    fit, spectrum = analysis.fit, analysis.spectrum
    values = spectrum_values(spectrum, options.scale)[: max(report.rank, 1)]
    edges, density = histogram(values, effective_bins(values.size, options.bins), log=options.log)
    curve_x, curve_y = mp_curve(fit, options.scale, log=options.log)
    cutoff = to_scale(fit.lambda_plus, spectrum.n, options.scale)
    edge = to_scale(fit.bulk_edge, spectrum.n, options.scale)
    spikes = values[: min(fit.n_signal, values.size)]
    if options.log:
        spikes = np.log10(spikes[spikes > 0])
        cutoff = float(np.log10(cutoff)) if cutoff > 0 else float(edges[0])
        edge = float(np.log10(edge)) if edge > 0 else float(edges[0])
    return SpectrumPlotData(values, edges, density, curve_x, curve_y, cutoff, edge, spikes, options)
