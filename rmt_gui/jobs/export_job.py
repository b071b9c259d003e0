"""Export a model state in a worker: the file is written atomically by the core."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from rmt_gui.jobs.control import CancelToken
from rmt_gui.model.export import export_model


def export_job(
    model: nn.Module,
    path: Path,
    fmt: str,
    history: list[str],
    metadata: Mapping[str, Any],
    token: CancelToken,
) -> Iterator[Path]:
    """Write ``model`` to ``path`` as ``fmt``, replacing what the user chose to overwrite.

    A symbolic link there is replaced itself; the file it points to is left alone.
    """
    token.check()
    yield export_model(model, path, fmt, force=True, history=history, metadata=metadata)
