"""Spectral core (numpy + scipy only): MP law, Tracy–Widom, BEMA, estimators, keep rules."""

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
from rmt_gui.spectral.mp import mp_cdf, mp_density, mp_edges, mp_quantile
from rmt_gui.spectral.spectrum import Spectrum, gram_eigenvalues, spectrum_of
from rmt_gui.spectral.tracy_widom import tw1_cdf, tw1_quantile

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_BETA",
    "GOOD_FIT_THRESHOLD",
    "BemaResult",
    "LayerAnalysis",
    "Spectrum",
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
    "spectrum_of",
    "tracy_widom_margin",
    "tw1_cdf",
    "tw1_quantile",
]
