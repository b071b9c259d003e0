"""The export formats by name and by file suffix: torch-free, so a parser can list them at once.

:data:`FORMAT_FILES` is the one table: the CLI's ``--format`` choices and the app's File ›
Export… filters are both built from it.
"""

from __future__ import annotations

FORMAT_FILES = {
    "rmt-gui": ("rmt-gui checkpoint, weights + architecture + history", ".pt"),
    "state-dict": ("PyTorch state dict", ".pth"),
    "safetensors": ("safetensors", ".safetensors"),
    "torchscript": ("TorchScript, runs without this app", ".ts"),
    "onnx": ("ONNX, runs in onnxruntime without PyTorch", ".onnx"),
}
"""Each format's description for a file dialog and the suffix its files get by default."""
FORMATS = tuple(FORMAT_FILES)
SUFFIX_FORMATS = {
    ".safetensors": "safetensors", ".ts": "torchscript", ".jit": "torchscript", ".onnx": "onnx",
}  # fmt: skip
