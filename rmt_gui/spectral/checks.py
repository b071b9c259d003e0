"""Input checks shared by the spectral functions: every bad argument becomes a ``ValueError``.

Messages are phrased for users (the CLI and the app show them as they are) and name the argument.
"""

from __future__ import annotations

import numbers
import reprlib

import numpy as np
from numpy.typing import ArrayLike, NDArray


def real_number(value: object, name: str) -> float:
    """``value`` as a float when it is a real number (not a bool), else ``ValueError``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {reprlib.repr(value)}")
    return float(value)


def real_array(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """``values`` as a float64 array when they are real numbers, else ``ValueError``.

    Integers and floats of any width are accepted; long doubles beyond the float64 range become
    ``inf`` (callers check finiteness where it matters).
    """
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers ({exc})") from exc
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be real numbers, got dtype {array.dtype}")
    with np.errstate(over="ignore"):
        return array.astype(np.float64)


def check_finite(values: NDArray, what: str) -> None:
    """Raise ``ValueError`` counting the NaN and infinite entries of ``values`` (named ``what``)."""
    finite = np.isfinite(values)
    if finite.all():
        return
    nan = int(np.count_nonzero(np.isnan(values)))
    inf = int(finite.size - np.count_nonzero(finite)) - nan
    counts = ", ".join(f"{k} {label}" for k, label in ((nan, "NaN"), (inf, "inf")) if k)
    raise ValueError(f"NaN or infinite {what} ({counts} of {finite.size} entries)")
