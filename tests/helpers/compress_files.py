"""Compressed model files counted and scored as a user would: every tensor the file holds, and
the test accuracy of an ONNX file run in onnxruntime (``rmt-gui evaluate`` reads the others)."""

from __future__ import annotations

from pathlib import Path

import torch

from rmt_gui.model.data import MnistSplit


def _entries(value: object) -> int:
    """Entries of every tensor in a loaded payload (nested dicts, lists and tuples)."""
    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, dict):
        return sum(_entries(item) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(_entries(item) for item in value)
    return 0


def file_params(path: Path) -> int:
    """Entries of every tensor stored in ``path``: ONNX initializers, safetensors tensors,
    a TorchScript archive's state dict, or every tensor of a ``torch.load`` payload."""
    suffix = path.suffix
    if suffix == ".onnx":
        import onnx

        return sum(int(torch.tensor(t.dims).prod()) for t in onnx.load(str(path)).graph.initializer)
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        return _entries(load_file(path))
    if suffix == ".ts":
        from rmt_gui.model.jit import quiet_jit

        with quiet_jit():
            return _entries(torch.jit.load(str(path)).state_dict())
    return _entries(torch.load(path, weights_only=True))


def onnx_accuracy(path: Path, test: MnistSplit) -> float:
    """Test accuracy of the ONNX file at ``path`` run in onnxruntime on every ``test`` image."""
    import onnxruntime

    runner = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    graph_input = runner.get_inputs()[0]
    images = test.images.flatten(1) if len(graph_input.shape) == 2 else test.images
    (logits,) = runner.run(None, {graph_input.name: images.float().numpy()})
    return float((torch.from_numpy(logits).argmax(1) == test.labels).float().mean())
