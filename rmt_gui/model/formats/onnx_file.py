"""``.onnx`` files (the ``onnx`` extra): the graph's weights as layers, and the MLP rebuilt.

A ModelProto is protobuf data, never code, so no trust is asked. The whole file is parsed in
memory (protobuf caps one message at 2 GB; a larger model keeps its weights in external data
files, which are refused rather than followed). Weights are the graph's initializers. A plain MLP
graph (:mod:`rmt_gui.model.formats.onnx_graph`: those ``rmt-gui`` exports, and torch.onnx.export
of ``nn.Sequential`` or module MLPs) is rebuilt as :class:`rmt_gui.model.tree.WeightTree`, its
layers named as exported (``fc1.weight``, ``fc1.0.weight``) where the initializer names allow and
``fc1``, ``fc2``, ... otherwise, weights oriented ``(out, in)`` with Gemm's ``alpha`` / ``beta``
folded in, computing in float32 and returning log-probabilities whether the graph ends in logits,
Softmax or LogSoftmax (the same predictions). Any other graph lists its float initializers for
analysis, and building its model is refused naming the op.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rmt_gui.errors import FileError, one_line
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.formats.onnx_graph import (
    Dense,
    GraphError,
    Segment,
    layer_prefixes,
    read_mlp,
    state_names,
)
from rmt_gui.model.layers import TensorMeta, layers_from_tensors
from rmt_gui.model.memory import human_bytes, require_memory

if TYPE_CHECKING:
    from torch import nn

IR_VERSION_TAG = 0x08  # ModelProto field 1 (ir_version), a varint
NEXT_FIELD_TAGS = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0xA2, 0xAA})
"""Tags of the ModelProto fields that follow ``ir_version``: producer name and version, domain,
model version, doc string, graph, opset imports, metadata, training info, functions."""
MAX_IR_VERSION = 100
MAX_BYTES = 2**31 - 1  # protobuf's limit on one serialised message
INSTALL_HINT = 'reading ONNX files needs the onnx package: pip install "rmt-gui[onnx]"'
FLOAT_TYPES = {1: "float32", 10: "float16", 11: "float64", 16: "bfloat16"}  # TensorProto codes
BFLOAT16 = 16
INT_TYPES = frozenset({6, 7})  # INT32, INT64: shape constants
EXTERNAL = 1  # TensorProto.EXTERNAL
MAX_CONSTANT = 16  # entries of an integer initializer read as a possible Reshape target


def looks_like_onnx(head: bytes) -> bool:
    """Whether ``head`` starts like a serialised ModelProto: ``ir_version`` (tag ``0x08``, a
    small varint) followed by the tag of another ModelProto field."""
    if len(head) < 3 or head[0] != IR_VERSION_TAG:
        return False
    return 0 < head[1] <= MAX_IR_VERSION and head[2] in NEXT_FIELD_TAGS


def _import_onnx(path: Path) -> Any:
    """The ``onnx`` module, or a one-line :class:`FileError` naming the extra to install."""
    try:
        import onnx
    except ImportError:
        raise FileError(path, INSTALL_HINT) from None
    return onnx


def _parse(path: Path) -> Any:
    """The file's ``onnx.ModelProto``, refusing oversize, corrupt and graph-less files."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise FileError(
            path, f"ONNX file of {human_bytes(size)} is over protobuf's 2 GB limit for one model"
        )
    onnx = _import_onnx(path)
    require_memory(path, "the ONNX graph", 2 * size)  # the bytes and the parsed message
    model = onnx.ModelProto()
    try:
        model.ParseFromString(path.read_bytes())
    except Exception as exc:  # protobuf's DecodeError, or any failure of its parser
        raise FileError(
            path, f"not a valid ONNX file: truncated or corrupt ({one_line(exc)})"
        ) from exc
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise FileError(path, "not a valid ONNX file (no ir_version or no graph)")
    return model


def _attribute_tensors(graph: Any) -> list[Any]:
    """Tensors held by node attributes (``Constant`` values)."""
    return [
        attribute.t for node in graph.node for attribute in node.attribute
        if attribute.HasField("t")
    ]  # fmt: skip


def _external_location(tensor: Any) -> str:
    """The file an externally stored tensor names (``location``), or ``?`` if it names none."""
    return next((entry.value for entry in tensor.external_data if entry.key == "location"), "?")


def _check_no_external_data(path: Path, graph: Any) -> None:
    """Refuse tensors stored in external files (torch.onnx.export's default writes
    ``model.onnx.data``): only the ``.onnx`` itself is read, never a path the file names."""
    for tensor in [*graph.initializer, *_attribute_tensors(graph)]:
        if tensor.data_location == EXTERNAL or tensor.external_data:
            raise FileError(
                path, f"ONNX tensor {tensor.name!r} is stored in an external data file "
                f"({_external_location(tensor)!r}), which is not read: export with the weights "
                "inside the .onnx (torch.onnx.export(..., external_data=False))"
            )  # fmt: skip


def _constants(path: Path, onnx: Any, graph: Any) -> dict[str, np.ndarray]:
    """Small integer initializers and ``Constant`` outputs: possible Reshape target shapes."""
    found = {
        tensor.name: tensor for tensor in graph.initializer
        if tensor.data_type in INT_TYPES and np.prod(tensor.dims) <= MAX_CONSTANT
    }  # fmt: skip
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for attribute in node.attribute:
                if attribute.name == "value" and attribute.t.data_type in INT_TYPES:
                    found[node.output[0]] = attribute.t
    return {name: to_array(path, onnx, tensor).reshape(-1) for name, tensor in found.items()}


def to_array(path: Path, onnx: Any, tensor: Any) -> np.ndarray:
    """``tensor`` as numpy; data that does not fit its declared shape or type is one line."""
    try:
        return onnx.numpy_helper.to_array(tensor)
    except Exception as exc:  # numpy's reshape or dtype errors on lying tensor data
        raise FileError(path, f"ONNX tensor {tensor.name!r} is corrupt ({one_line(exc)})") from exc


def _check_dims(path: Path, initializers: Mapping[str, Any]) -> None:
    """Refuse negative dimensions, which no tensor can have."""
    for name, tensor in initializers.items():
        if any(d < 0 for d in tensor.dims):
            raise FileError(
                path, f"ONNX tensor {name!r} has a negative dimension {list(tensor.dims)}"
            )


def _scaled(array: np.ndarray, factor: float) -> np.ndarray:
    """``array`` times Gemm's ``factor`` (the array itself when it is 1)."""
    return array if factor == 1 else array * array.dtype.type(factor)


class OnnxCheckpoint(Checkpoint):
    """An ONNX model file: a runnable MLP when the graph is one, else its weights for analysis."""

    format = "onnx"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._onnx = _import_onnx(self.path)
        model = _parse(self.path)
        graph = model.graph
        _check_no_external_data(self.path, graph)
        self._initializers = {tensor.name: tensor for tensor in graph.initializer}
        _check_dims(self.path, self._initializers)
        shapes = {name: tuple(int(d) for d in t.dims) for name, t in self._initializers.items()}
        try:
            segments = read_mlp(graph, shapes, _constants(self.path, self._onnx, graph))
        except GraphError as exc:
            self._problem: str | None = str(exc)
            self._sources = self._raw_sources()
        else:
            self._problem = None
            self._sources = self._mlp_sources(segments)
        self.detail = self._describe(model)

    def _describe(self, model: Any) -> str:
        """``MLP graph, 3 dense layers (opset 20, pytorch 2.14)`` or the reason it is not one."""
        opsets = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
        producer = " ".join(filter(None, [model.producer_name, model.producer_version]))
        origin = ", ".join(filter(None, [f"opset {opsets[0]}" if opsets else "", producer]))
        dense = sum(key.endswith("weight") for key in self._sources)
        head = f"MLP graph, {dense} dense layers" if self._problem is None else self._problem
        return f"{head} ({origin})" if origin else head

    def _raw_sources(self) -> dict[str, tuple[str, Dense | None]]:
        """Every float initializer under its own name, as stored (the graph is not an MLP)."""
        return {
            name: (name, None) for name, tensor in self._initializers.items()
            if tensor.data_type in FLOAT_TYPES
        }  # fmt: skip

    def _mlp_sources(self, segments: list[Segment]) -> dict[str, tuple[str, Dense | None]]:
        """State-dict keys of the rebuilt MLP, each with its initializer and dense layer."""
        sources: dict[str, tuple[str, Dense | None]] = {}
        for prefix, segment in zip(layer_prefixes(segments), segments, strict=True):
            for dense, key in state_names(prefix, segment):
                sources[f"{key}.weight"] = (dense.weight, dense)
                if dense.bias is not None:
                    sources[f"{key}.bias"] = (dense.bias, dense)
        return sources

    def _shape(self, key: str) -> tuple[int, ...]:
        """The shape of state-dict entry ``key``: ``(out, in)`` / ``(out,)`` for an MLP."""
        name, dense = self._sources[key]
        if dense is None:
            return tuple(int(d) for d in self._initializers[name].dims)
        return dense.shape if key.endswith("weight") else (dense.shape[0],)

    def layers(self) -> list[LayerInfo]:
        metas = [
            TensorMeta(key, self._shape(key), FLOAT_TYPES[self._initializers[name].data_type])
            for key, (name, _) in self._sources.items()
        ]
        return layers_from_tensors(metas)

    def _read(self, key: str) -> np.ndarray:
        """Entry ``key`` as numpy: oriented and scaled as the graph computes it for an MLP."""
        name, dense = self._sources[key]
        array = to_array(self.path, self._onnx, self._initializers[name])
        if self._initializers[name].data_type == BFLOAT16:  # ml_dtypes' type, widened
            array = array.astype(np.float32)
        if dense is None:
            return array
        if key.endswith("bias"):
            return _scaled(array.reshape(-1), dense.beta)
        return _scaled(array.T if dense.transposed else array, dense.alpha)

    def build_model(self) -> nn.Module:
        """The MLP of the graph, in float32; a graph that is not one is refused naming why."""
        if self._problem is not None:
            raise FileError(self.path, self._problem)
        import torch

        from rmt_gui.model.tree import tree_from_state_dict

        state = {
            key: torch.from_numpy(np.array(self._read(key), dtype=np.float32))
            for key in self._sources
        }
        return tree_from_state_dict(state)
