"""The values-only Gram route against a full SVD, and input validation."""

import numpy as np
import pytest

from rmt_gui.spectral import Spectrum, spectrum_of


@pytest.mark.parametrize("shape", [(1000, 784), (64, 640), (300, 300), (784, 10)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gram_route_matches_full_svd(shape: tuple[int, int], dtype: type) -> None:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal(shape) / np.sqrt(max(shape))).astype(dtype)
    w[:, 0] *= 30.0
    reference = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    spec = spectrum_of(w)
    assert spec.shape == shape
    np.testing.assert_allclose(spec.singular_values, reference, rtol=1e-9, atol=1e-7 * reference[0])
    np.testing.assert_allclose(spec.eigenvalues, reference**2 / max(shape), rtol=1e-8, atol=1e-13)


def test_spectrum_is_sorted_and_read_only() -> None:
    spec = Spectrum.from_singular_values([1.0, 3.0, 2.0], (3, 5))
    assert spec.singular_values.tolist() == [3.0, 2.0, 1.0]
    assert (spec.p, spec.n, spec.gamma) == (3, 5, 0.6)
    with pytest.raises(ValueError):
        spec.singular_values[0] = 9.0


def test_from_eigenvalues_round_trip() -> None:
    spec = Spectrum.from_singular_values([4.0, 2.0], (2, 8))
    again = Spectrum.from_eigenvalues(spec.eigenvalues, (2, 8))
    np.testing.assert_allclose(again.singular_values, spec.singular_values)


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.ones(5), "2-D"),
        (np.ones((0, 4)), "non-empty"),
        (np.array([["a", "b"]]), "numeric"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([[1.0, np.inf]]), "inf"),
    ],
)
def test_bad_matrices_raise(array: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        spectrum_of(array)


def test_wrong_number_of_values_raises() -> None:
    with pytest.raises(ValueError, match="expected 3 singular values"):
        Spectrum.from_singular_values([1.0, 2.0], (3, 4))
