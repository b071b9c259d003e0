"""SVD surgery on the linear layers of a model, each operation returning a new model.

Layers are named by their weight key (``fc1.weight``); the weight is ``(out, in)``. The SVD
``W = U diag(S) V^T`` comes from the float64 Gram route (:class:`GramSVD`) and results are cast
back to the layer's dtype; callers that already decomposed a layer pass that decomposition in. A new
model shares every untouched tensor with the original; only the modules on the path to the
changed layer are copied, so the original is never modified and copies are cheap.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass

import torch
from torch import nn

from rmt_gui.errors import RmtGuiError
from rmt_gui.model.decomposition import GramSVD
from rmt_gui.model.jit import quiet_jit
from rmt_gui.model.module_layers import is_linear
from rmt_gui.model.rule import Factorize
from rmt_gui.model.tree import is_factor_pair


class SurgeryError(RmtGuiError):
    """A requested operation does not apply to this layer or model."""


@dataclass(frozen=True)
class LayerChange:
    """What one operation did to one layer: shapes, ranks and parameter counts."""

    layer: str
    rank_before: int
    rank_after: int
    shape_before: tuple[int, int]
    factor_shapes: tuple[tuple[int, int], tuple[int, int]] | None
    params_before: int
    params_after: int

    @property
    def factorized(self) -> bool:
        """Whether the layer was split into two ``Linear`` factors."""
        return self.factor_shapes is not None


def module_path(layer: str) -> str:
    """The module path of a weight key: ``fc1.weight`` -> ``fc1``."""
    return layer.rpartition(".")[0]


def get_linear(model: nn.Module, layer: str) -> nn.Linear:
    """The linear module whose weight is ``layer``; :class:`SurgeryError` if there is none."""
    module = owner_of(model, layer)
    if not is_linear(module) or not layer.endswith("weight"):
        raise SurgeryError(f"{layer!r} is not the weight of a linear layer")
    return module


def submodule(model: nn.Module, path: str) -> nn.Module:
    """The module at dotted ``path`` (also for TorchScript, which lacks ``get_submodule``)."""
    module = model
    for part in filter(None, path.split(".")):
        children = module._modules  # a dict lookup: scanning named_children is O(children)
        child = children.get(part) if isinstance(children, dict) else None
        if child is None:
            child = dict(module.named_children()).get(part)
        if child is None:
            raise SurgeryError(f"no module named {path!r}")
        module = child
    return module


def owner_of(model: nn.Module, layer: str) -> nn.Module:
    """The module that holds parameter ``layer``."""
    try:
        module = submodule(model, module_path(layer))
    except SurgeryError as exc:
        raise SurgeryError(f"no layer named {layer!r}") from exc
    if not hasattr(module, layer.rpartition(".")[2]):
        raise SurgeryError(f"no layer named {layer!r}")
    return module


def get_weight(model: nn.Module, layer: str) -> torch.Tensor:
    """Parameter ``layer`` as a 2-D ``(out, in)`` tensor (conv kernels reshaped)."""
    weight = getattr(owner_of(model, layer), layer.rpartition(".")[2])
    if not isinstance(weight, torch.Tensor) or weight.ndim < 2 or not weight.is_floating_point():
        raise SurgeryError(f"{layer!r} is not a 2-D float weight")
    return weight.detach().reshape(weight.shape[0], -1)


def numerical_rank(s: torch.Tensor, shape: tuple[int, int]) -> int:
    """Singular values above ``max(shape) * eps * s_max`` (float32 eps: weights are stored so)."""
    if s.numel() == 0 or float(s[0]) == 0.0:
        return 0
    tol = max(shape) * torch.finfo(torch.float32).eps * float(s[0])
    return int((s > tol).sum())


def should_factorize(rank: int, shape: tuple[int, int], mode: Factorize) -> bool:
    """Factorise (rank >= 1) when asked to always, or when ``k (in + out) < in * out``."""
    out_dim, in_dim = shape
    smaller = rank * (in_dim + out_dim) < in_dim * out_dim
    return rank >= 1 and (mode == "always" or (mode == "if_smaller" and smaller))


def _with_submodule(root: nn.Module, path: str, new: nn.Module) -> nn.Module:
    """A copy of ``root`` with the module at ``path`` replaced; other modules are shared."""
    if not path:
        return new
    head, _, rest = path.partition(".")
    clone = copy.copy(root)
    clone._modules = dict(root._modules)
    clone._modules[head] = _with_submodule(root.get_submodule(head), rest, new)
    return clone


def _with_parameter(model: nn.Module, layer: str, value: torch.Tensor) -> nn.Module:
    """A copy of ``model`` whose parameter ``layer`` is ``value`` (cast to its dtype and shape)."""
    owner = owner_of(model, layer)
    leaf = layer.rpartition(".")[2]
    old = getattr(owner, leaf)
    clone = copy.copy(owner)
    clone._parameters = dict(owner._parameters)
    clone._parameters[leaf] = nn.Parameter(
        value.to(old.dtype).reshape(old.shape).contiguous(), requires_grad=old.requires_grad
    )
    return _with_submodule(model, module_path(layer), clone)


def _dense_like(layer: nn.Linear, weight: torch.Tensor) -> nn.Linear:
    """A new ``nn.Linear`` with ``weight`` and a copy of ``layer``'s bias."""
    new = nn.Linear(weight.shape[1], weight.shape[0], bias=layer.bias is not None, device="meta")
    new.weight = nn.Parameter(weight.to(layer.weight.dtype).contiguous())
    if layer.bias is not None:
        new.bias = nn.Parameter(layer.bias.detach().clone())
    return new


def _factor_pair(
    layer: nn.Linear, u: torch.Tensor, s: torch.Tensor, vh: torch.Tensor
) -> nn.Sequential:
    """``Linear(in, k, bias=False) -> Linear(k, out)`` with ``sqrt(S) V^T`` and ``U sqrt(S)``."""
    root_s = s.sqrt()
    first = nn.Linear(vh.shape[1], s.numel(), bias=False, device="meta")
    first.weight = nn.Parameter((root_s[:, None] * vh).to(layer.weight.dtype).contiguous())
    second = _dense_like(layer, (u * root_s[None, :]))
    return nn.Sequential(first, second)


def is_factor_layer(model: nn.Module, layer: str) -> bool:
    """Whether weight ``layer`` belongs to one factor of a factorised pair."""
    path = module_path(layer)
    return "." in path and is_factor_pair(submodule(model, path.rpartition(".")[0]))


def _replace_weight_scripted(model: nn.Module, layer: str, weight: torch.Tensor) -> nn.Module:
    """A reloaded copy of a TorchScript ``model`` with ``layer``'s weight replaced."""
    clone = detached_copy(model)
    target = getattr(submodule(clone, module_path(layer)), layer.rpartition(".")[2])
    with torch.no_grad():
        target.copy_(weight.to(target.dtype).reshape(target.shape))
    return clone


def _rebuild(
    model: nn.Module,
    layer: str,
    u: torch.Tensor,
    s: torch.Tensor,
    vh: torch.Tensor,
    factorize: bool,
) -> nn.Module:
    """The model with ``layer`` replaced by ``U diag(s) V^T`` (dense) or its factor pair."""
    if isinstance(model, torch.jit.ScriptModule):
        if factorize:
            raise SurgeryError(
                "a TorchScript model cannot be factorised; prune without --factorize"
            )
        return _replace_weight_scripted(model, layer, (u * s[None, :]) @ vh)
    if factorize:
        module = get_linear(model, layer)
        if is_factor_layer(model, layer):
            raise SurgeryError(f"{layer!r} is already one factor of a factorised pair")
        return _with_submodule(model, module_path(layer), _factor_pair(module, u, s, vh))
    return _with_parameter(model, layer, (u * s[None, :]) @ vh)


def bias_size(model: nn.Module, layer: str) -> int:
    """Number of bias entries of the layer owning weight ``layer`` (0 when it has none)."""
    bias = getattr(owner_of(model, layer), "bias", None)
    return int(bias.numel()) if isinstance(bias, torch.Tensor) else 0


def _change(
    layer: str,
    s_before: torch.Tensor,
    shape: tuple[int, int],
    rank: int,
    factorized: bool,
    bias: int,
) -> LayerChange:
    """Book-keeping for one layer operation."""
    out_dim, in_dim = shape
    after = rank * (in_dim + out_dim) + bias if factorized else out_dim * in_dim + bias
    return LayerChange(
        layer=layer,
        rank_before=numerical_rank(s_before, shape),
        rank_after=rank,
        shape_before=shape,
        factor_shapes=((rank, in_dim), (out_dim, rank)) if factorized else None,
        params_before=out_dim * in_dim + bias,
        params_after=after,
    )


def _decompose(model: nn.Module, layer: str, decomposition: GramSVD | None) -> GramSVD:
    """The given decomposition of ``layer``, or a fresh one of its current weight."""
    return decomposition or GramSVD.of(get_weight(model, layer))


def keep_subset(
    model: nn.Module,
    layer: str,
    indices: torch.Tensor,
    factorize: Factorize = "never",
    decomposition: GramSVD | None = None,
) -> tuple[nn.Module, LayerChange]:
    """Keep only the singular triplets at ``indices`` (e.g. signal plus a random noise subset)."""
    dec = _decompose(model, layer, decomposition)
    idx = torch.sort(torch.as_tensor(indices, dtype=torch.long)).values
    if idx.numel() and (idx[0] < 0 or idx[-1] >= dec.s.numel()):
        raise SurgeryError(f"singular-value index out of range for {layer!r}")
    split = should_factorize(idx.numel(), dec.shape, factorize)
    u, s, vh = dec.factors(idx)
    new = _rebuild(model, layer, u, s, vh, split)
    return new, _change(layer, dec.s, dec.shape, idx.numel(), split, bias_size(model, layer))


def truncate(
    model: nn.Module,
    layer: str,
    rank: int,
    factorize: Factorize = "never",
    decomposition: GramSVD | None = None,
) -> tuple[nn.Module, LayerChange]:
    """Keep the top ``rank`` singular triplets of ``layer`` (the best rank-k approximation)."""
    shape = tuple(get_weight(model, layer).shape)
    if not 0 <= rank <= min(shape):
        raise SurgeryError(f"rank for {layer!r} must be in [0, {min(shape)}], got {rank}")
    return keep_subset(model, layer, torch.arange(rank), factorize, decomposition)


def shrink(
    model: nn.Module,
    layer: str,
    keep: int,
    factor: float,
    decomposition: GramSVD | None = None,
) -> tuple[nn.Module, LayerChange]:
    """Multiply the singular values after the first ``keep`` (the noise) by ``factor``."""
    dec = _decompose(model, layer, decomposition)
    if not 0 <= keep <= dec.s.numel():
        raise SurgeryError(
            f"signal count for {layer!r} must be in [0, {dec.s.numel()}], got {keep}"
        )
    if not 0.0 <= factor <= 1.0:
        raise SurgeryError(f"shrink factor must be in [0, 1], got {factor}")
    u, s, vh = dec.factors(torch.arange(dec.s.numel()))
    scaled = torch.cat([s[:keep], s[keep:] * factor])
    new = _rebuild(model, layer, u, scaled, vh, factorize=False)
    kept = numerical_rank(scaled, dec.shape)
    return new, _change(layer, dec.s, dec.shape, kept, False, bias_size(model, layer))


def parameter_count(model: nn.Module) -> int:
    """Number of parameters (weights and biases) of ``model``."""
    return sum(p.numel() for p in model.parameters())


def detached_copy(model: nn.Module) -> nn.Module:
    """A deep copy safe to hand to another thread (TorchScript models are reloaded)."""
    if isinstance(model, torch.jit.ScriptModule):
        buffer = io.BytesIO()
        with quiet_jit():
            torch.jit.save(model, buffer)
            buffer.seek(0)
            return torch.jit.load(buffer)
    return copy.deepcopy(model)


__all__ = [
    "Factorize",
    "LayerChange",
    "SurgeryError",
    "bias_size",
    "detached_copy",
    "get_linear",
    "get_weight",
    "is_factor_layer",
    "keep_subset",
    "module_path",
    "numerical_rank",
    "owner_of",
    "parameter_count",
    "should_factorize",
    "shrink",
    "submodule",
    "truncate",
]
