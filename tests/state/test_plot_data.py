"""Plot data comes from the spectral core; manual-cutoff positions and counts agree."""

from __future__ import annotations

import numpy as np
import pytest

from rmt_gui.jobs.analysis_job import LayerReport
from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.spectral import analyze_matrix
from rmt_gui.spectral.histogram import histogram, mp_curve
from rmt_gui.state.plot_data import PlotOptions, effective_bins, plot_data


def spiked_report(rank: int | None = None) -> LayerReport:
    """A 400x200 noise matrix plus three strong spikes."""
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((400, 200)) * 0.05
    u, v = rng.standard_normal((400, 3)), rng.standard_normal((3, 200))
    analysis = analyze_matrix("w", noise + u @ v * 0.2)
    info = LayerInfo("w", (400, 200), 80_000, "float64")
    return LayerReport(info, analysis, "", 200 if rank is None else rank, True)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("scale", ["eigen", "singular"])
def test_arrays_are_the_cores(scale: str, log: bool) -> None:
    report = spiked_report()
    data = plot_data(report, PlotOptions(scale, log, 40))
    values = report.analysis.spectrum.eigenvalues if scale == "eigen" else (
        report.analysis.spectrum.singular_values
    )  # fmt: skip
    edges, density = histogram(values, effective_bins(200, 40), log=log)
    np.testing.assert_array_equal(data.edges, edges)
    np.testing.assert_array_equal(data.density, density)
    np.testing.assert_array_equal(data.curve_x, mp_curve(report.analysis.fit, scale, log)[0])
    assert data.spikes.size == report.analysis.fit.n_signal == 3


def test_small_layers_get_fewer_bins() -> None:
    assert effective_bins(10_000, 60) == 60
    assert effective_bins(64, 60) == 16
    assert effective_bins(3, 60) == 8


def test_manual_cutoff_round_trip() -> None:
    data = plot_data(spiked_report(), PlotOptions("eigen", True, 40))
    for rank in (0, 1, 3, 50, 199, 200):
        assert data.kept(data.position_for(rank)) == rank


def test_truncated_layer_shows_only_kept_values() -> None:
    data = plot_data(spiked_report(rank=20), PlotOptions("singular", False, 30))
    assert data.values.size == 20


def test_failed_layer_has_no_plot() -> None:
    info = LayerInfo("w", (4, 4), 16, "float32")
    assert plot_data(LayerReport(info, None, "contains NaN values", 0, True), PlotOptions()) is None
