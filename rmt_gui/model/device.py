"""Which torch device runs the numerical work: ``auto`` (CUDA when present), ``cpu`` or ``cuda``."""

from __future__ import annotations

import os
import sys
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


def cuda_possible() -> bool:
    """Whether this machine may have a CUDA device, known without importing torch: on Linux the
    NVIDIA driver's ``/dev/nvidiactl`` must exist. ``analyze --device auto`` of a small file then
    never loads torch (slow to import, and impossible under a tight memory cap)."""
    return not sys.platform.startswith("linux") or os.path.exists("/dev/nvidiactl")


def light_device(choice: str = "auto") -> str | torch.device:
    """:func:`resolve_device`, except that ``cpu`` (or ``auto`` where :func:`cuda_possible` says
    no) is answered as the name ``"cpu"`` without importing torch."""
    if choice == "cpu" or (choice == "auto" and not cuda_possible()):
        return "cpu"
    return resolve_device(choice)
