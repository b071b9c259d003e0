"""The Tracy–Widom law for beta = 1 (real symmetric / real Wishart matrices).

Method: the Ferrari–Spohn Fredholm determinant ``F1(s) = det(I - B_s)`` with kernel
``B_s(x, y) = Ai(x + y + s)`` on ``L2(0, inf)``, discretised by Gauss–Legendre quadrature as in
Bornemann (2010, "On the numerical evaluation of distributions in random matrix theory").
The error decays exponentially in the number of nodes, so 64 nodes on a truncated interval give
close to double precision for the probabilities used here; quantiles invert it with ``brentq``.
Chosen over a tabulated package because it needs only scipy, is exact to ~1e-12 and is tested
against the published quantiles (0.90: 0.4501, 0.95: 0.9793, 0.99: 2.0234).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import airy

_NODES = 64
_SPAN = 16.0


@lru_cache(maxsize=1)
def _legendre_nodes() -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights mapped to ``[0, _SPAN]``."""
    nodes, weights = np.polynomial.legendre.leggauss(_NODES)
    return _SPAN * (nodes + 1.0) / 2.0, _SPAN * weights / 2.0


def tw1_cdf(s: float) -> float:
    """Tracy–Widom beta = 1 distribution function ``F1(s)``."""
    x, w = _legendre_nodes()
    root_w = np.sqrt(w)
    kernel = airy(x[:, None] + x[None, :] + s)[0]
    det = np.linalg.det(np.eye(_NODES) - root_w[:, None] * kernel * root_w[None, :])
    return float(np.clip(det, 0.0, 1.0))


@lru_cache(maxsize=256)
def tw1_quantile(prob: float) -> float:
    """Tracy–Widom beta = 1 quantile ``F1^-1(prob)`` for ``prob`` in ``(1e-6, 1 - 1e-10)``."""
    prob = float(prob)
    if not 1e-6 < prob < 1.0 - 1e-10:
        raise ValueError(
            f"Tracy–Widom quantile needs a probability in (1e-6, 1 - 1e-10), got {prob}"
        )
    return float(brentq(lambda s: tw1_cdf(s) - prob, -8.0, 10.0, xtol=1e-12))
