"""Flatten instead of Reshape at an exported graph's input: no shape constant in the file.

torch's exporter writes ``x.flatten(1)`` on the image input as ``Reshape(images, [-1, 784])``,
whose 2-entry shape is an initializer: a parameter a user counting the file's tensors would see
and a budget would have to leave room for. ``Flatten(axis=1)`` computes the same ``[N, 784]``
for every batch size ``N`` and holds no tensor.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onnx import GraphProto, ModelProto, NodeProto


def _static_tail(graph: GraphProto) -> dict[str, int]:
    """Each graph input's entries per sample (its dims after the first), where all are fixed."""
    sizes = {}
    for value in graph.input:
        dims = value.type.tensor_type.shape.dim[1:]
        if dims and all(d.HasField("dim_value") for d in dims):
            sizes[value.name] = math.prod(d.dim_value for d in dims)
    return sizes


def _is_input_flatten(node: NodeProto, shapes: dict[str, list[int]], tails: dict[str, int]) -> bool:
    """Whether ``node`` reshapes a graph input of ``K`` entries per sample to ``[-1, K]``."""
    if node.op_type != "Reshape" or len(node.input) != 2:
        return False
    data, shape = node.input
    return data in tails and shapes.get(shape) == [-1, tails[data]]


def flatten_input_reshapes(model: ModelProto) -> ModelProto:
    """``model`` with every flatten of a graph input written as ``Flatten(axis=1)``, and the
    shape constants no node uses any more dropped (in place; returned for chaining)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    shapes = {
        t.name: numpy_helper.to_array(t).tolist() for t in graph.initializer if len(t.dims) == 1
    }
    tails = _static_tail(graph)
    for node in graph.node:
        if _is_input_flatten(node, shapes, tails):
            flat = helper.make_node("Flatten", [node.input[0]], list(node.output), axis=1)
            flat.name = node.name
            node.CopyFrom(flat)
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model
