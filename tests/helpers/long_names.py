"""A transformer-like weights file: six blocks of long, mostly alike layer names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

BLOCK_LAYERS = (
    "attention.self.query",
    "attention.self.key",
    "attention.output.dense",
    "intermediate.dense",
)
PREFIX = "encoder.layer."


def long_names(blocks: int = 6) -> list[str]:
    """``encoder.layer.{i}.attention.self.query.weight`` … for ``blocks`` blocks."""
    return [f"{PREFIX}{i}.{layer}.weight" for i in range(blocks) for layer in BLOCK_LAYERS]


def write_long_names(path: Path, blocks: int = 6, size: int = 48) -> Path:
    """Random ``size``×``size`` weights (with a rank-2 signal) under :func:`long_names`."""
    rng = np.random.default_rng(3)
    signal = rng.standard_normal((size, 2)) @ rng.standard_normal((2, size))
    tensors = {
        name: (rng.standard_normal((size, size)) + 0.6 * signal).astype(np.float32)
        for name in long_names(blocks)
    }
    save_file(tensors, str(path))
    return path
