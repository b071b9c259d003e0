"""A module put in evaluation mode for a block and given its own mode back after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in evaluation mode (dropout off, batch-norm statistics frozen) inside the
    block; whatever mode it was in is restored on the way out, even on an error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
