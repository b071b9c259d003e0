"""Open a model folder: a PEFT adapter (``adapter_config.json``) or a Hugging Face model folder."""

from __future__ import annotations

from pathlib import Path

from rmt_gui.errors import FileError
from rmt_gui.model.checkpoint import Checkpoint
from rmt_gui.model.formats.hf_folder import WEIGHT_CHOICES, HFFolderCheckpoint, weights_of
from rmt_gui.model.formats.peft_adapter import ADAPTER_CONFIG, PeftAdapterCheckpoint

EXPECTED = f"{', '.join(name for name, _ in WEIGHT_CHOICES)} or {ADAPTER_CONFIG}"


def open_folder(folder: Path) -> Checkpoint:
    """The checkpoint of a model folder, or a one-line FileError saying what was expected."""
    try:
        if (folder / ADAPTER_CONFIG).is_file():
            return PeftAdapterCheckpoint(folder)
        found = weights_of(folder)
    except PermissionError as exc:
        raise FileError(folder, "cannot be read: permission denied") from exc
    if found is None:
        raise FileError(folder, f"is a folder, not a model file nor a model folder (no {EXPECTED})")
    return HFFolderCheckpoint(folder, *found)
