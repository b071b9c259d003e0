"""Tab titles for open files: a training run's models are named by their run folder.

Every run writes ``final.pt`` (or ``cancelled.pt``, and ``checkpoints/epoch-NNN.pt``) next to its
``run.json``, so plain file names say nothing and repeat from run to run. Such a model is titled
by its run folder (``train-20260101-120000``, ``… · cancelled``) and kept off the recent-files
list: the app opens one or two per run by itself, and the run folder already lists them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

RUN_SUMMARY = "run.json"
FINAL_MODEL = "final.pt"
SPECTRA = "spectra.jsonl"


@lru_cache(maxsize=512)
def run_folder(path: Path) -> Path | None:
    """The training-run folder ``path`` was saved in (holding ``run.json``), if any."""
    for folder in (path.parent, path.parent.parent):
        if (folder / RUN_SUMMARY).is_file():
            return folder
    return None


def tab_title(path: Path) -> str:
    """``path``'s file name; for a run's model, the run folder's name (and which model, unless
    it is the final one)."""
    folder = run_folder(path)
    if folder is None:
        return path.name
    return folder.name if path.name == FINAL_MODEL else f"{folder.name} · {path.stem}"


def is_run_model(path: Path) -> bool:
    """Whether ``path`` is a model a training run saved (kept off the recent-files list)."""
    return run_folder(path) is not None


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` is a training run's folder with spectra to replay (``spectra.jsonl``)."""
    return (Path(path) / SPECTRA).is_file()
