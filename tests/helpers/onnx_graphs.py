"""Small ONNX model files written with ``onnx.helper`` (no exporter: milliseconds each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WIDTH = 16


def weights(seed: int = 0) -> dict[str, np.ndarray]:
    """A 784-16-10 MLP's float32 weights ``(out, in)`` and biases, seeded."""
    rng = np.random.default_rng(seed)
    return {
        "fc1.weight": rng.normal(0, 0.05, (WIDTH, 784)).astype(np.float32),
        "fc1.bias": rng.normal(0, 0.05, WIDTH).astype(np.float32),
        "fc2.weight": rng.normal(0, 0.2, (10, WIDTH)).astype(np.float32),
        "fc2.bias": rng.normal(0, 0.2, 10).astype(np.float32),
    }


def save(path: Path, nodes: list, initializers: dict[str, np.ndarray], flat: bool = True) -> Path:
    """Write a graph ``x`` -> ``y`` of ``nodes`` over ``initializers`` to ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shape: list[str | int] = ["N", 784] if flat else ["N", 1, 28, 28]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(value, name) for name, value in initializers.items()],
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def matmul_mlp(path: Path, seed: int = 0) -> Path:
    """The MLP as ``Reshape``, ``MatMul`` + ``Add`` (weights stored ``(in, out)``, opaque names),
    ``Relu``, ``Gemm`` (``transB = 0``, ``alpha = 2``), ``Softmax``."""
    from onnx import helper

    w = weights(seed)
    initializers = {
        "onnx::MatMul_7": w["fc1.weight"].T.copy(), "b1": w["fc1.bias"],
        "w2": (w["fc2.weight"].T / 2).copy(), "b2": w["fc2.bias"],
        "shape": np.array([-1, 784], dtype=np.int64),
    }  # fmt: skip
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "onnx::MatMul_7"], ["h"]),
        helper.make_node("Add", ["b1", "h"], ["hb"]),
        helper.make_node("Relu", ["hb"], ["r"]),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["z"], alpha=2.0),
        helper.make_node("Softmax", ["z"], ["y"], axis=1),
    ]
    return save(path, nodes, initializers, flat=False)


def conv_net(path: Path) -> Path:
    """A Conv then a Gemm read-out: layers listed, no model built."""
    from onnx import helper

    rng = np.random.default_rng(0)
    initializers = {
        "conv.weight": rng.normal(0, 0.1, (4, 1, 3, 3)).astype(np.float32),
        "fc.weight": rng.normal(0, 0.1, (10, 4 * 26 * 26)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight"], ["c"]),
        helper.make_node("Flatten", ["c"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc.weight"], ["y"], transB=1),
    ]
    return save(path, nodes, initializers, flat=False)
