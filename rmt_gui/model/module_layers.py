"""Discover the linear layers of a live module (``nn.Module`` or TorchScript)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeGuard

from torch import nn

from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.model.layers import TensorMeta, layers_from_tensors


def is_linear(module: nn.Module) -> TypeGuard[nn.Linear]:
    """An ``nn.Linear``, or a TorchScript module compiled from one (typed as ``nn.Linear``:
    it has the same ``weight``, ``bias``, ``in_features`` and ``out_features``)."""
    return isinstance(module, nn.Linear) or getattr(module, "original_name", "") == "Linear"


def is_conv(module: nn.Module) -> bool:
    """An ``nn.Conv2d``, or a TorchScript module compiled from one."""
    return isinstance(module, nn.Conv2d) or getattr(module, "original_name", "") == "Conv2d"


def linear_modules(model: nn.Module) -> Iterator[tuple[str, nn.Linear]]:
    """``(path, module)`` of every linear layer of ``model`` in definition order."""
    for path, module in model.named_modules():
        if is_linear(module):
            yield path, module


def layers_from_module(model: nn.Module) -> list[LayerInfo]:
    """Layers of a module: its linear layers and conv kernels, factorised pairs marked."""
    metas = [TensorMeta(k, tuple(t.shape), str(t.dtype)) for k, t in model.state_dict().items()]
    wanted = {
        f"{path}.weight" if path else "weight"
        for path, module in model.named_modules()
        if is_linear(module) or is_conv(module)
    }
    return [info for info in layers_from_tensors(metas) if info.name in wanted]
