"""Valid ranges of numeric dataclass fields, for code that reads values from files.

A field made with :func:`bounded` carries its range in its metadata; a reader (such as
:func:`rmt_gui.state.settings_schema.read`) keeps the default for a value outside it.
"""

from __future__ import annotations

from dataclasses import Field, field
from typing import Any

RANGE_KEY = "range"


def bounded(default: float, low: float, high: float) -> Any:
    """A dataclass field with ``default`` that accepts only values in ``[low, high]``."""
    return field(default=default, metadata={RANGE_KEY: (low, high)})


def bounds_of(item: Field[Any]) -> tuple[float, float] | None:
    """The range a :func:`bounded` field accepts, ``None`` for any other field."""
    return item.metadata.get(RANGE_KEY)
