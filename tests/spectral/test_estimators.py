"""Gavish–Donoho, MP edge, energy rule and the paper's keep rule."""

import numpy as np
import pytest

from rmt_gui.spectral import (
    Spectrum,
    bema_fit,
    energy_rank,
    gavish_donoho_rank,
    gavish_donoho_threshold,
    keep_rank,
    mp_edge_rank,
)


def test_gavish_donoho_square_coefficient() -> None:
    spec = Spectrum.from_singular_values(np.linspace(1.0, 2.0, 101), (101, 101))
    assert gavish_donoho_threshold(spec) == pytest.approx(2.86 * 1.5, rel=1e-12)
    assert gavish_donoho_rank(spec) == 0


def test_mp_edge_counts_at_least_bema() -> None:
    rng = np.random.default_rng(4)
    w = rng.standard_normal((300, 600)) / np.sqrt(600)
    w[0, 0] = 3.0
    spec = Spectrum.from_singular_values(np.linalg.svd(w, compute_uv=False), w.shape)
    fit = bema_fit(spec)
    assert mp_edge_rank(spec, fit) >= fit.n_signal >= 1


def test_energy_rank() -> None:
    spec = Spectrum.from_singular_values(np.sqrt([50.0, 30.0, 15.0, 5.0]), (4, 4))
    assert energy_rank(spec, 0.5) == 1
    assert energy_rank(spec, 0.8) == 2
    assert energy_rank(spec, 0.81) == 3
    assert energy_rank(spec, 1.0) == 4
    assert energy_rank(Spectrum.from_singular_values(np.zeros(3), (3, 3)), 0.9) == 0
    with pytest.raises(ValueError, match="fraction"):
        energy_rank(spec, 0.0)


@pytest.mark.parametrize(
    ("n_signal", "p", "fraction", "min_rank", "expected"),
    [
        (0, 784, 0.45, 10, 352),
        (56, 784, 0.45, 10, 56 + 327),
        (2, 100, 0.0, 10, 10),
        (5, 100, 1.0, 1, 100),
        (3, 10, 0.3, 1, 5),
        (0, 5, 0.45, 10, 5),
    ],
)
def test_keep_rank(n_signal: int, p: int, fraction: float, min_rank: int, expected: int) -> None:
    assert keep_rank(n_signal, p, fraction, min_rank) == expected


def test_keep_rank_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="fraction"):
        keep_rank(1, 10, 1.5)
    with pytest.raises(ValueError, match="n_signal"):
        keep_rank(11, 10, 0.5)
