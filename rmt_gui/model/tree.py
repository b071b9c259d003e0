"""A runnable module rebuilt from a plain state dict, keeping every original key.

Each group of tensors sharing a prefix becomes a submodule: ``nn.Linear`` where a 2-D weight
(and optional matching 1-D bias) fits, a factorised pair ``nn.Sequential(Linear(in, k, bias=False),
Linear(k, out))`` where ``P.0.weight``/``P.1.weight``/``P.1.bias`` chain, and a plain container
otherwise. ``state_dict()`` of the result has exactly the keys it was built from.

When the top-level linear layers chain from 784 inputs to 10 outputs, the tree is the paper's MLP:
``forward`` flattens ``[N, 1, 28, 28]`` images (pixels in ``[0, 1]``), applies the layers with
ReLU between them (none inside a factorised pair) and returns log-probabilities.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeGuard, cast

import torch
from torch import nn

from rmt_gui.errors import RmtGuiError

MNIST_INPUTS = 28 * 28
MNIST_CLASSES = 10
MAX_TENSORS = 10_000
"""Tensors a rebuilt module tree may hold: real models have hundreds; 200,000 take minutes."""


class NotRunnableError(RmtGuiError):
    """The architecture could not be rebuilt: spectra and export still work, evaluation does not."""


class KeyClashError(RmtGuiError):
    """The keys cannot all live in one module tree (``fc1.weight`` beside ``fc1.weight.weight``,
    an empty name, a name ``nn.Module`` itself uses): no module can hold the file's tensors."""


def linear_dims(module: nn.Module) -> tuple[int, int] | None:
    """``(in, out)`` of an ``nn.Linear`` or a factorised pair, else ``None``."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if is_factor_pair(module):
        first, second = cast("nn.Linear", module[0]), cast("nn.Linear", module[1])
        return first.in_features, second.out_features
    return None


def is_factor_pair(module: nn.Module) -> TypeGuard[nn.Sequential]:
    """Whether ``module`` is ``Sequential(Linear(in, k, bias=False), Linear(k, out))``."""
    return (
        isinstance(module, nn.Sequential)
        and len(module) == 2
        and all(isinstance(m, nn.Linear) for m in module)
        and module[0].bias is None
        and module[0].out_features == module[1].in_features
    )


class WeightTree(nn.Module):
    """Module tree holding a state dict; runnable as an MLP when ``chain`` names its layers."""

    def __init__(self, chain: Sequence[str] = ()) -> None:
        super().__init__()
        self.chain = list(chain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of the MLP over flattened inputs."""
        if not self.chain:
            raise NotRunnableError("cannot rebuild this architecture (spectra only)")
        x = x.flatten(1)
        for i, name in enumerate(self.chain):
            x = self.get_submodule(name)(x)
            if i < len(self.chain) - 1:
                x = torch.relu(x)
        return torch.log_softmax(x, dim=1)


def _group(state: Mapping[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Split ``prefix.leaf`` keys into ``{prefix: {leaf: tensor}}`` keeping the original order."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        prefix, _, leaf = key.rpartition(".")
        groups.setdefault(prefix, {})[leaf] = tensor
    return groups


def _as_linear(leaves: Mapping[str, torch.Tensor]) -> nn.Linear | None:
    """An ``nn.Linear`` carrying exactly ``weight`` (2-D float, not empty) and an optional
    matching bias."""
    weight, bias = leaves.get("weight"), leaves.get("bias")
    if weight is None or weight.ndim != 2 or not weight.is_floating_point() or not weight.numel():
        return None
    if set(leaves) - {"weight", "bias"}:
        return None
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        return None
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, device="meta")
    layer.weight = nn.Parameter(weight, requires_grad=weight.requires_grad)
    if bias is not None:
        layer.bias = nn.Parameter(bias, requires_grad=bias.requires_grad)
    return layer


def _ensure_path(root: nn.Module, path: str) -> nn.Module:
    """The container at dotted ``path`` under ``root``, creating empty modules on the way."""
    node = root
    for part in filter(None, path.split(".")):
        if part not in node._modules:
            node.add_module(part, nn.Module())
        node = node.get_submodule(part)
    return node


def _attach(root: nn.Module, path: str, module: nn.Module) -> None:
    """Place ``module`` at dotted ``path`` under ``root``, taking over a container's children."""
    parent, _, name = path.rpartition(".")
    holder = _ensure_path(root, parent)
    previous = holder._modules.get(name)
    if previous is not None:
        for child, submodule in previous.named_children():
            module.add_module(child, submodule)
    holder.add_module(name, module)


def _fold_factor_pairs(root: nn.Module) -> None:
    """Turn containers holding Linears ``0`` and ``1`` that chain into factor pairs."""
    for path, module in list(root.named_modules()):
        if type(module) is nn.Module and set(module._modules) == {"0", "1"}:
            pair = nn.Sequential(module.get_submodule("0"), module.get_submodule("1"))
            if is_factor_pair(pair) and not module._parameters and not module._buffers:
                _attach(root, path, pair)


def find_chain(root: nn.Module) -> list[str]:
    """Paths of the linear layers, in order, if they chain from 784 inputs to 10 outputs.

    The layers must be the only children of ``root`` or of a single container under it
    (``net.0``, ``net.2``, ... of a saved ``nn.Sequential``); otherwise ``[]``.
    """
    prefix, node = "", root
    while len(node._modules) == 1 and type(next(iter(node._modules.values()))) is nn.Module:
        name, node = next(node.named_children())
        prefix += f"{name}."
    names, width = [], MNIST_INPUTS
    for name, module in node.named_children():
        dims = linear_dims(module)
        if dims is None or dims[0] != width:
            return []
        names.append(prefix + name)
        width = dims[1]
    return names if names and width == MNIST_CLASSES else []


def _check_keys(keys: Iterable[str]) -> None:
    """Refuse keys no module tree can hold: empty names, and a tensor named like a submodule."""
    keys = list(keys)
    parents: dict[str, str] = {}
    for key in keys:
        parts = key.split(".")
        if not all(parts):
            what = "is empty" if not key else "has an empty part between dots"
            raise KeyClashError(f"cannot rebuild a model: the key {key!r} {what}")
        for end in range(1, len(parts)):
            parents.setdefault(".".join(parts[:end]), key)
    for key in keys:
        if key in parents:
            raise KeyClashError(f"cannot rebuild a model: key clash {key} / {parents[key]}")


def _place(root: nn.Module, prefix: str, leaves: Mapping[str, torch.Tensor]) -> None:
    """Put the tensors of one ``prefix`` under ``root``: as an ``nn.Linear`` where they fit."""
    linear = _as_linear(leaves) if prefix else None
    if linear is not None:
        _attach(root, prefix, linear)
        return
    holder = _ensure_path(root, prefix)
    for leaf, tensor in leaves.items():
        if tensor.is_floating_point():
            parameter = nn.Parameter(tensor, requires_grad=tensor.requires_grad)
            holder.register_parameter(leaf, parameter)
        else:
            holder.register_buffer(leaf, tensor)


def check_tensor_count(count: int) -> None:
    """Refuse, before any work, a tree of more than :data:`MAX_TENSORS` tensors (one line)."""
    if count > MAX_TENSORS:
        raise RmtGuiError(f"cannot rebuild a model from {count} tensors (at most {MAX_TENSORS})")


def tree_from_state_dict(state: Mapping[str, torch.Tensor]) -> WeightTree:
    """Rebuild a :class:`WeightTree` holding ``state`` (tensors are shared, not copied).

    Raises :class:`KeyClashError` when the keys cannot form one module tree, and
    :class:`RmtGuiError` for more than :data:`MAX_TENSORS` tensors.
    """
    check_tensor_count(len(state))
    _check_keys(state)
    root = WeightTree()
    for prefix, leaves in _group(state).items():
        try:
            _place(root, prefix, leaves)
        except KeyError as exc:  # torch refuses names nn.Module already uses ("forward", ...)
            where = f"under {prefix}" if prefix else "at the top level"
            raise KeyClashError(
                f"cannot rebuild a model: a key {where} uses a name nn.Module reserves "
                f"({exc.args[0]})"
            ) from exc
    _fold_factor_pairs(root)
    root.chain = find_chain(root)
    return root


def build_mlp(dims: Sequence[int], seed: int | None = None) -> WeightTree:
    """A fresh MLP ``dims[0] -> ... -> dims[-1]`` with layers ``fc1, fc2, ...`` (PyTorch init)."""
    if len(dims) < 2 or any(int(d) < 1 for d in dims):
        raise ValueError(f"an MLP needs at least two positive widths, got {list(dims)}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    root = WeightTree()
    for i, (n_in, n_out) in enumerate(itertools.pairwise(dims), start=1):
        layer = nn.Linear(int(n_in), int(n_out))
        if generator is not None:
            bound = 1.0 / float(n_in) ** 0.5
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
        root.add_module(f"fc{i}", layer)
    root.chain = [f"fc{i}" for i in range(1, len(dims))]
    return root
