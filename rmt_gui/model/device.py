"""Which torch device runs the numerical work: ``auto`` (CUDA when present), ``cpu`` or ``cuda``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rmt_gui.errors import RmtGuiError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")
"""The values of every ``--device`` option."""


def resolve_device(choice: str = "auto") -> torch.device:
    """The torch device for ``choice``: ``auto`` picks CUDA when torch sees one, else the CPU.

    ``cuda`` on a machine without CUDA is an :class:`RmtGuiError` with a one-line message, so a
    script that asks for the GPU fails loudly instead of silently running on the CPU.
    """
    import torch

    if choice not in DEVICE_CHOICES:
        raise RmtGuiError(f"--device must be one of {', '.join(DEVICE_CHOICES)}, got {choice!r}")
    if choice == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if choice == "cuda":
        raise RmtGuiError("--device cuda: CUDA is not available on this machine; use --device cpu")
    return torch.device("cpu")
