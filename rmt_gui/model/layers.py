"""Discover the fully connected layers of a state dict from tensor metadata alone (no torch)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from rmt_gui.model.checkpoint import LayerInfo

FLOAT_DTYPES = ("float64", "float32", "float16", "bfloat16", "float8")
SAFETENSORS_NAMES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def dtype_name(dtype: str) -> str:
    """One spelling for every format: ``torch.float32`` and ``F32`` are both ``float32``."""
    return SAFETENSORS_NAMES.get(dtype, dtype.removeprefix("torch."))


@dataclass(frozen=True)
class TensorMeta:
    """Name, shape and dtype of one stored tensor, known without reading its data."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def is_float(self) -> bool:
        """Whether the dtype is a floating-point type (``torch.float32``, ``F32``, ...)."""
        dtype = self.dtype.lower().removeprefix("torch.")
        return dtype.startswith(FLOAT_DTYPES) or dtype in {"f64", "f32", "f16", "bf16"}


def _factor_groups(metas: dict[str, TensorMeta]) -> dict[str, str]:
    """Map each weight key of a factorised pair ``P.0.weight``/``P.1.weight`` to ``P``."""
    groups = {}
    for name, meta in metas.items():
        if not name.endswith(".0.weight") or len(meta.shape) != 2:
            continue
        prefix = name.removesuffix(".0.weight")
        second = metas.get(f"{prefix}.1.weight")
        if (
            second is not None
            and len(second.shape) == 2
            and f"{prefix}.0.bias" not in metas
            and second.shape[1] == meta.shape[0]
        ):
            groups[name] = groups[f"{prefix}.1.weight"] = prefix
    return groups


def _bias_size(metas: dict[str, TensorMeta], name: str, rows: int) -> int:
    """Size of the bias matching weight ``name`` (``P.weight`` -> ``P.bias``), else 0."""
    if not name.endswith("weight"):
        return 0
    bias = metas.get(name.removesuffix("weight") + "bias")
    return rows if bias is not None and bias.shape == (rows,) else 0


def layers_from_tensors(tensors: Iterable[TensorMeta]) -> list[LayerInfo]:
    """Every 2-D float tensor as a layer, and 4-D conv kernels reshaped, in storage order."""
    metas = {meta.name: meta for meta in tensors}
    groups = _factor_groups(metas)
    layers = []
    for name, meta in metas.items():
        if not meta.is_float or len(meta.shape) not in (2, 4) or 0 in meta.shape:
            continue
        if len(meta.shape) == 4 and not name.endswith("weight"):
            continue
        rows = meta.shape[0]
        cols = math.prod(meta.shape[1:])
        layers.append(
            LayerInfo(
                name=name,
                shape=(int(rows), cols),
                params=int(rows) * cols + _bias_size(metas, name, rows),
                dtype=dtype_name(meta.dtype),
                factor_group=groups.get(name),
                conv_shape=tuple(int(d) for d in meta.shape) if len(meta.shape) == 4 else None,
            )
        )
    return layers
