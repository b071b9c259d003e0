"""Recognise a plain MLP in an ONNX graph: the dense layers, their grouping and their names.

Accepted graphs are one chain from a single input to a single output made of ``Flatten`` /
``Reshape`` (to 2-D), ``Gemm`` (``transA = 0``), ``MatMul`` followed by a bias ``Add``, ``Relu``,
``Identity`` and a final ``LogSoftmax`` / ``Softmax`` over the class axis; shape constants may
come from ``Constant`` nodes. Between two ReLUs sit one dense layer or a factorised pair (the
first without bias), exactly what :class:`rmt_gui.model.tree.WeightTree` computes. Weights are
named as initializers; nothing here imports onnx or torch.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SUPPORTED_OPS = frozenset(
    {"Gemm", "MatMul", "Add", "Relu", "Flatten", "Reshape", "Identity", "Softmax", "LogSoftmax",
     "Constant"}
)  # fmt: skip
SHAPE_OPS = frozenset({"Flatten", "Reshape", "Identity"})
OUTPUT_OPS = frozenset({"Softmax", "LogSoftmax"})
CLASS_AXES = (1, -1)
FLOAT_ATTRIBUTE, INT_ATTRIBUTE = 1, 2  # onnx.AttributeProto.FLOAT / .INT
DEFAULT_DOMAINS = ("", "ai.onnx")
MODULE_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
RESERVED_TOP = frozenset({"chain", "forward", "training"})
"""Top-level names a rebuilt tree cannot hold as children (``WeightTree`` attributes)."""


class GraphError(Exception):
    """The graph is not a plain MLP; the message says why, for a one-line error."""


@dataclass(frozen=True)
class Dense:
    """One dense layer: its initializers and how to turn them into ``(out, in)`` and ``(out,)``.

    ``weight`` is stored ``(in, out)`` when ``transposed`` (``MatMul``, ``Gemm`` with
    ``transB = 0``); ``alpha`` and ``beta`` are Gemm's scales of the product and of the bias.
    """

    weight: str
    shape: tuple[int, int]
    transposed: bool
    bias: str | None = None
    alpha: float = 1.0
    beta: float = 1.0

    def with_bias(self, bias: str) -> Dense:
        """The same layer with ``bias`` added after it (a ``MatMul`` then ``Add``)."""
        return Dense(self.weight, self.shape, self.transposed, bias, self.alpha, self.beta)


Segment = tuple[Dense, ...]
"""The layers between two ReLUs: one dense layer, or a factorised pair."""


def _attributes(node: Any) -> dict[str, float | int]:
    """A node's scalar attributes (``transB``, ``alpha``, ``axis``, ...) as Python numbers."""
    values: dict[str, float | int] = {}
    for attribute in node.attribute:
        if attribute.type == FLOAT_ATTRIBUTE:
            values[attribute.name] = attribute.f
        elif attribute.type == INT_ATTRIBUTE:
            values[attribute.name] = attribute.i
    return values


def first_unsupported_op(nodes: Sequence[Any]) -> str | None:
    """The first op type outside :data:`SUPPORTED_OPS` (or from another domain), else ``None``."""
    for node in nodes:
        if node.domain not in DEFAULT_DOMAINS:
            return f"{node.domain}.{node.op_type}"
        if node.op_type not in SUPPORTED_OPS:
            return str(node.op_type)
    return None


class _ChainReader:
    """Walks the nodes in order, following the single running value from input to output."""

    def __init__(self, shapes: Mapping[str, tuple[int, ...]], constants: Mapping[str, Any]):
        self.shapes = shapes
        self.constants = constants
        self.tokens: list[Dense | str] = []

    def _dims(self, name: str, what: str) -> tuple[int, ...]:
        """The dims of initializer ``name``, which must be stored in the file."""
        if name not in self.shapes:
            raise GraphError(f"ONNX {what} {name!r} is not stored in the file as a weight")
        return self.shapes[name]

    def _gemm(self, node: Any) -> Dense:
        """A ``Gemm`` node as a dense layer (``transA`` must be 0)."""
        attributes = _attributes(node)
        if attributes.get("transA", 0):
            raise GraphError("ONNX Gemm with transA = 1 is not supported for evaluation")
        transposed = not attributes.get("transB", 0)
        dims = self._dims(node.input[1], "Gemm weight")
        if len(dims) != 2:
            raise GraphError(f"ONNX Gemm weight {node.input[1]!r} is not 2-D")
        shape = (dims[1], dims[0]) if transposed else (dims[0], dims[1])
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        if bias is not None:
            self._check_bias(bias, shape[0])
        alpha, beta = float(attributes.get("alpha", 1.0)), float(attributes.get("beta", 1.0))
        return Dense(node.input[1], shape, transposed, bias, alpha, beta)

    def _matmul(self, node: Any) -> Dense:
        """``MatMul(x, W)`` with ``W`` a stored ``(in, out)`` matrix."""
        dims = self._dims(node.input[1], "MatMul weight")
        if len(dims) != 2:
            raise GraphError(f"ONNX MatMul weight {node.input[1]!r} is not 2-D")
        return Dense(node.input[1], (dims[1], dims[0]), transposed=True)

    def _check_bias(self, name: str, rows: int) -> None:
        """A bias must hold one entry per output (``(out,)`` or ``(1, out)``)."""
        dims = self._dims(name, "bias")
        if dims not in ((rows,), (1, rows)):
            raise GraphError(
                f"ONNX bias {name!r} of shape {list(dims)} does not fit {rows} outputs"
            )

    def _add(self, node: Any, current: str) -> Dense:
        """A bias ``Add`` after a ``MatMul`` (either operand order)."""
        other = node.input[1] if node.input[0] == current else node.input[0]
        last = self.tokens[-1] if self.tokens else None
        if not isinstance(last, Dense) or last.bias is not None:
            raise GraphError("ONNX Add that is not the bias of a MatMul is not supported")
        self._check_bias(other, last.shape[0])
        return last.with_bias(other)

    def _check_shape_op(self, node: Any) -> None:
        """Flatten and Reshape must give ``[N, features]``, as the rebuilt MLP's flatten does."""
        if node.op_type == "Flatten" and _attributes(node).get("axis", 1) != 1:
            raise GraphError("ONNX Flatten with axis other than 1 is not supported for evaluation")
        if node.op_type == "Reshape":
            target = self.constants.get(node.input[1])
            if target is None or len(target) != 2:
                raise GraphError("ONNX Reshape to anything but a fixed 2-D shape is not supported")

    def _step(self, node: Any, current: str, last: bool) -> None:
        """Record what ``node`` does to the running value."""
        op = node.op_type
        if op == "Gemm":
            self.tokens.append(self._gemm(node))
        elif op == "MatMul":
            self.tokens.append(self._matmul(node))
        elif op == "Add":
            self.tokens[-1] = self._add(node, current)
        elif op == "Relu":
            self.tokens.append("relu")
        elif op in SHAPE_OPS:
            self._check_shape_op(node)
        elif not last or _attributes(node).get("axis", -1) not in CLASS_AXES:
            raise GraphError(f"ONNX {op} is supported only as the last node, over the class axis")

    def read(self, nodes: Sequence[Any], source: str, sink: str) -> list[Dense | str]:
        """Dense layers and ``"relu"`` markers from ``source`` to ``sink``, in order."""
        current = source
        chained = [node for node in nodes if node.op_type != "Constant"]
        for index, node in enumerate(chained):
            if current not in node.input[:2] or (
                node.op_type != "Add" and node.input[0] != current
            ):
                raise GraphError(f"ONNX graph is not one chain of layers (at {node.op_type} node)")
            self._step(node, current, index == len(chained) - 1)
            current = node.output[0]
        if current != sink:
            raise GraphError("ONNX graph output is not the end of its chain of layers")
        return self.tokens


def _segments(tokens: Sequence[Dense | str]) -> list[Segment]:
    """Split at ReLUs; each part is one dense layer or a pair whose first half has no bias."""
    parts: list[list[Dense]] = [[]]
    for token in tokens:
        if token == "relu":
            parts.append([])
        else:
            parts[-1].append(token)  # type: ignore[arg-type]
    for part in parts:
        if not part:
            raise GraphError("ONNX graph has a ReLU that does not sit between two layers")
        if len(part) > 2 or (len(part) == 2 and part[0].bias is not None):
            raise GraphError("ONNX graph has linear layers without a ReLU between them")
    return [tuple(part) for part in parts]


def _check_widths(segments: Sequence[Segment]) -> None:
    """Each layer must take as many inputs as the one before gives."""
    layers = [dense for segment in segments for dense in segment]
    for before, after in itertools.pairwise(layers):
        if after.shape[1] != before.shape[0]:
            raise GraphError(
                f"ONNX layer {after.weight!r} takes {after.shape[1]} inputs but the layer "
                f"before gives {before.shape[0]}"
            )


def read_mlp(
    graph: Any, shapes: Mapping[str, tuple[int, ...]], constants: Mapping[str, Any]
) -> list[Segment]:
    """The segments of ``graph`` (an ``onnx.GraphProto``), else :class:`GraphError`.

    ``shapes`` gives the dims of every initializer, ``constants`` the small integer arrays
    (initializers and ``Constant`` outputs) a ``Reshape`` may take its target shape from.
    """
    unsupported = first_unsupported_op(graph.node)
    if unsupported is not None:
        raise GraphError(f"ONNX op {unsupported} is not supported for evaluation")
    inputs = [value.name for value in graph.input if value.name not in shapes]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise GraphError("ONNX graph with more than one input or output is not supported")
    tokens = _ChainReader(shapes, constants).read(graph.node, inputs[0], graph.output[0].name)
    segments = _segments(tokens)
    _check_widths(segments)
    return segments


def _usable_prefix(prefix: str) -> bool:
    """Whether ``prefix`` can name a submodule path (``fc1``, ``net.0``, ``fc1_0``)."""
    return bool(prefix) and all(MODULE_PART.fullmatch(part) for part in prefix.split("."))


def _segment_prefix(segment: Segment) -> str | None:
    """``P`` when the initializers are ``P.weight`` (+ ``P.bias``), or ``P.0.weight``,
    ``P.1.weight`` (+ ``P.1.bias``) for a pair; else ``None``."""
    suffixes = (".weight",) if len(segment) == 1 else (".0.weight", ".1.weight")
    if not all(dense.weight.endswith(end) for dense, end in zip(segment, suffixes, strict=True)):
        return None
    prefixes = {
        dense.weight.removesuffix(end) for dense, end in zip(segment, suffixes, strict=True)
    }
    prefix = prefixes.pop()
    last = segment[-1]
    bias_name = f"{last.weight.removesuffix('.weight')}.bias"
    if prefixes or (last.bias is not None and last.bias != bias_name):
        return None
    return prefix if _usable_prefix(prefix) else None


def _named_prefixes(segments: Sequence[Segment]) -> list[str] | None:
    """The initializers' own layer names, if they form one container's children, else ``None``."""
    prefixes = [_segment_prefix(segment) for segment in segments]
    if any(prefix is None for prefix in prefixes) or len(set(prefixes)) != len(prefixes):
        return None
    names = [str(prefix) for prefix in prefixes]
    parents = {name.rpartition(".")[0] for name in names}
    if len(parents) != 1 or (parents == {""} and RESERVED_TOP & set(names)):
        return None
    return names


def layer_prefixes(segments: Sequence[Segment]) -> list[str]:
    """One module path per segment: the exported names where usable, else ``fc1``, ``fc2``, ..."""
    return _named_prefixes(segments) or [f"fc{i}" for i in range(1, len(segments) + 1)]


def state_names(prefix: str, segment: Segment) -> list[tuple[Dense, str]]:
    """Each dense layer of ``segment`` with its key prefix in the rebuilt state dict."""
    if len(segment) == 1:
        return [(segment[0], prefix)]
    return [(segment[0], f"{prefix}.0"), (segment[1], f"{prefix}.1")]
