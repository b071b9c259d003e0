"""ONNX export (the ``onnx`` extra): torch's dynamo exporter, verified with onnxruntime.

The graph takes a batch of MNIST images ``[N, 1, 28, 28]`` (or ``[N, 784]`` for a model that
only runs on flattened ones), ``N`` a dynamic axis, and returns ``[N, 10]``. Before the file is
written (atomically, by :mod:`rmt_gui.model.export`), onnxruntime runs the exported graph on a
batch and its output is compared with the PyTorch model's: a maximum absolute difference above
:data:`TOLERANCE` is an error and nothing is written.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from rmt_gui.errors import FileError, one_line
from rmt_gui.model.evaluate import check_runnable
from rmt_gui.model.modes import evaluation_mode
from rmt_gui.model.onnx_flatten import flatten_input_reshapes
from rmt_gui.model.tree import NotRunnableError

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
INSTALL_HINT = "ONNX export needs the onnx extra: pip install 'rmt-gui[onnx]'"
TOLERANCE = 1e-4
"""Largest accepted |onnxruntime - PyTorch| over a batch's outputs (float32 logits)."""
SAMPLE_SIZE = 256
INPUT_NAME = "images"
OUTPUT_NAME = "logits"


@dataclass(frozen=True)
class OnnxGraph:
    """A serialised ONNX model and its check against PyTorch on ``checked`` images."""

    data: bytes
    max_abs_diff: float
    checked: int


def require_onnx(path: str | Path) -> None:
    """Import the ONNX packages, or a :class:`FileError` on ``path`` naming the extra."""
    for name in ONNX_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise FileError(path, f"{INSTALL_HINT} ({name} is not installed)") from None


def sample_images(count: int = SAMPLE_SIZE, seed: int = 0) -> torch.Tensor:
    """``count`` seeded images ``[count, 1, 28, 28]`` of uniform pixels in ``[0, 1]`` (MNIST's
    range), for a check when no real batch is given."""
    return torch.rand(count, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def session(data: bytes | str | Path, threads: int | None = None) -> InferenceSession:
    """An onnxruntime CPU session on ``data`` (bytes or a file), ``threads`` intra-op threads
    (default: torch's, so that timings compare)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.log_severity_level = 3
    source = data if isinstance(data, bytes) else str(data)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def session_inputs(runner: InferenceSession, images: torch.Tensor) -> dict[str, Any]:
    """The feed of ``runner`` for ``images`` ``[N, 1, 28, 28]``, flattened if its input is 2-D."""
    graph_input = runner.get_inputs()[0]
    batch = images.flatten(1) if len(graph_input.shape) == 2 else images
    return {graph_input.name: batch.detach().to(torch.float32).contiguous().numpy()}


def run_session(runner: InferenceSession, images: torch.Tensor) -> torch.Tensor:
    """The outputs of ``runner`` on ``images`` as a tensor."""
    return torch.from_numpy(runner.run(None, session_inputs(runner, images))[0])


def _exported(model: nn.Module, example: torch.Tensor) -> bytes:
    """``model`` exported on ``example`` with a dynamic batch axis, serialised."""
    program = torch.onnx.export(
        model, (example,), None, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
        dynamo=True, verbose=False, dynamic_shapes=({0: torch.export.Dim("batch")},),
    )  # fmt: skip
    if program is None:
        raise NotRunnableError("the ONNX exporter returned no program")
    return flatten_input_reshapes(program.model_proto).SerializeToString()


def _graph_bytes(model: nn.Module) -> bytes:
    """``model`` as ONNX on image batches, else on flattened ones; one line if neither works."""
    images = sample_images(2)
    try:
        return _exported(model, images)
    except Exception as first:
        try:
            return _exported(model, images.flatten(1))
        except Exception:
            raise NotRunnableError(
                f"cannot convert the model to ONNX: it does not run on MNIST images "
                f"({one_line(first)})"
            ) from first


def _eval_graph_bytes(model: nn.Module) -> bytes:
    """:func:`_graph_bytes` of ``model`` in evaluation mode (its own mode restored after)."""
    with evaluation_mode(model):
        return _graph_bytes(model)


def initializer_count(data: bytes) -> int:
    """Entries of every initializer of a serialised ONNX model: its parameters as a user counts
    them from the file (weights and biases; the exporter leaves no shape constant,
    :mod:`rmt_gui.model.onnx_flatten`)."""
    import onnx

    return sum(math.prod(tensor.dims) for tensor in onnx.load_from_string(data).graph.initializer)


def reference_outputs(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """PyTorch's outputs on ``images`` in evaluation mode (flattened when the model needs it)."""
    with evaluation_mode(model), torch.no_grad():
        try:
            return model(images)
        except Exception:
            return model(images.flatten(1))


def export_graph(
    model: nn.Module, path: str | Path, sample: torch.Tensor | None = None
) -> OnnxGraph:
    """``model`` (evaluation mode) as checked ONNX bytes; ``path`` only names the file in errors.

    ``sample`` (``[N, 1, 28, 28]``, default :func:`sample_images`) is the checked batch; a
    difference above :data:`TOLERANCE` raises :class:`FileError`.
    """
    require_onnx(path)
    if isinstance(model, torch.jit.ScriptModule):
        raise FileError(path, "a TorchScript model cannot be exported to ONNX here")
    check_runnable(model)
    data = _eval_graph_bytes(model)
    images = sample_images() if sample is None else sample
    expected = reference_outputs(model, images)
    got = run_session(session(data), images)
    diff = float((got - expected).abs().max()) if got.shape == expected.shape else float("inf")
    if not diff <= TOLERANCE:
        raise FileError(
            path, f"the ONNX graph does not match the PyTorch model: max |difference| {diff:.3g} "
            f"over {len(images)} images (tolerance {TOLERANCE:g})"
        )  # fmt: skip
    return OnnxGraph(data, diff, len(images))
