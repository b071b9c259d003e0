"""The export formats by name and by file suffix: torch-free, so a parser can list them at once."""

from __future__ import annotations

FORMATS = ("rmt-gui", "state-dict", "safetensors", "torchscript", "onnx")
SUFFIX_FORMATS = {
    ".safetensors": "safetensors", ".ts": "torchscript", ".jit": "torchscript", ".onnx": "onnx",
}  # fmt: skip
