"""TorchScript calls without torch's deprecation warnings (the format is still widely saved)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_jit() -> Iterator[None]:
    """Silence the ``FutureWarning`` that recent torch emits on every ``torch.jit`` call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        yield
