"""This project's checkpoint format: weights plus the architecture, loadable with weights_only.

A ``torch.save`` zip archive of one dict made only of plain types and tensors::

    {"format": "rmt-gui-checkpoint", "version": 1,
     "state_dict": {name: tensor},          # a factorised layer P as P.0.weight, P.1.weight/bias
     "architecture": {"kind": "mlp", "chain": ["fc1", "fc2"], "input_shape": [1, 28, 28],
                      "activation": "relu", "output": "log_softmax"}   # or {"kind": "weights"}
     "history": ["opened", "BEMA, keep 0.45 of noise", ...],
     "metadata": {...}}                              # free-form: training config, metrics, source

The MLP applies ReLU between chained layers, none between the two factors of a pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, BinaryIO

import torch
from torch import nn

from rmt_gui.model.tree import WeightTree

FORMAT_TAG = "rmt-gui-checkpoint"
FORMAT_VERSION = 1


def architecture_of(model: nn.Module) -> dict[str, Any]:
    """The architecture record of ``model``: an MLP chain, or weights only."""
    if isinstance(model, WeightTree) and model.chain:
        return {
            "kind": "mlp",
            "chain": list(model.chain),
            "input_shape": [1, 28, 28],
            "activation": "relu",
            "output": "log_softmax",
        }
    return {"kind": "weights"}


def native_payload(
    model: nn.Module, history: list[str] | None = None, metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The dict saved for ``model`` (tensors detached and contiguous, on the CPU)."""
    return {
        "format": FORMAT_TAG,
        "version": FORMAT_VERSION,
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "architecture": architecture_of(model),
        "history": list(history or []),
        "metadata": dict(metadata or {}),
    }


def save_native(
    model: nn.Module,
    target: BinaryIO,
    history: list[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write ``model`` in this project's format to an open binary file."""
    torch.save(native_payload(model, history, metadata), target)


def is_native(payload: object) -> bool:
    """Whether a loaded object is this project's checkpoint dict."""
    return isinstance(payload, dict) and payload.get("format") == FORMAT_TAG
