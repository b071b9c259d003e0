"""Readable names of file formats, for headers, status lines and reports.

A checkpoint's ``format`` is a short tag (``rmt-gui``, ``state-dict``) that the CLI's JSON and
the export code use; people read the names below instead. A detail that already starts with
the format's name (``rmt-gui checkpoint, MLP, …``) is not prefixed with it again.
"""

from __future__ import annotations

FORMAT_NAMES = {
    "rmt-gui": "rmt-gui checkpoint",
    "state-dict": "PyTorch state dict",
    "training-checkpoint": "PyTorch training checkpoint",
    "pickled-module": "PyTorch module",
    "torchscript": "TorchScript",
    "onnx": "ONNX",
    "safetensors": "safetensors",
    "hf-folder": "Hugging Face folder",
    "peft-lora": "PEFT",
    "npy": "NumPy array",
    "npz": "NumPy archive",
}


def format_name(fmt: str) -> str:
    """The readable name of format tag ``fmt`` (an unknown tag as it is)."""
    return FORMAT_NAMES.get(fmt, fmt)


def file_description(fmt: str, detail: str) -> str:
    """``PyTorch state dict, 4 tensors``: the format's name, then ``detail`` (alone when it
    starts with that name already, as ``rmt-gui checkpoint, MLP, 1 history step`` does)."""
    name = format_name(fmt)
    if not detail:
        return name
    return detail if detail.lower().startswith(name.lower()) else f"{name}, {detail}"
