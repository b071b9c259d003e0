"""Spectral core (numpy + scipy): MP law, Tracy–Widom, BEMA, estimators, keep rules, WW metrics."""

from rmt_gui.spectral.analysis import LayerAnalysis, analyze_matrix, analyze_spectrum
from rmt_gui.spectral.bema import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    GOOD_FIT_THRESHOLD,
    BemaResult,
    bema_fit,
    check_bema_options,
    tracy_widom_margin,
)
from rmt_gui.spectral.estimators import (
    energy_rank,
    gavish_donoho_rank,
    gavish_donoho_threshold,
    keep_rank,
    mp_edge_rank,
)
from rmt_gui.spectral.heavy_tail import PowerLawFit, power_law_fit
from rmt_gui.spectral.mp import mp_cdf, mp_density, mp_edges, mp_quantile
from rmt_gui.spectral.spectrum import Spectrum, gram_eigenvalues, spectrum_of
from rmt_gui.spectral.tracy_widom import tw1_cdf, tw1_quantile
from rmt_gui.spectral.ww_metrics import METRIC_KEYS, WWMetrics, ww_metrics

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_BETA",
    "GOOD_FIT_THRESHOLD",
    "METRIC_KEYS",
    "BemaResult",
    "LayerAnalysis",
    "PowerLawFit",
    "Spectrum",
    "WWMetrics",
    "analyze_matrix",
    "analyze_spectrum",
    "bema_fit",
    "check_bema_options",
    "energy_rank",
    "gavish_donoho_rank",
    "gavish_donoho_threshold",
    "gram_eigenvalues",
    "keep_rank",
    "mp_cdf",
    "mp_density",
    "mp_edge_rank",
    "mp_edges",
    "mp_quantile",
    "power_law_fit",
    "spectrum_of",
    "tracy_widom_margin",
    "tw1_cdf",
    "tw1_quantile",
    "ww_metrics",
]
