"""The keys of one layer's record in ``rmt-gui analyze --json``, for the tests that check them."""

from rmt_gui.spectral.ww_metrics import METRIC_KEYS

LAYER_KEYS = {
    "name", "shape", "params", "sv_max", "n_signal", "sigma2", "lambda_plus",
    "sv_threshold", "fit_error", "good_fit", "rank_gavish_donoho", "role", "block", "prunable",
    *METRIC_KEYS,
}  # fmt: skip
