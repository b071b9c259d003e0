"""A training run's models are titled by their run folder and kept off the recent files."""

from __future__ import annotations

from pathlib import Path

from rmt_gui.state.tab_titles import is_run_model, tab_title


def test_run_models_are_named_by_their_folder(tmp_path: Path) -> None:
    run = tmp_path / "train-20260101-120000-baseline"
    (run / "checkpoints").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    assert tab_title(run / "final.pt") == "train-20260101-120000-baseline"
    assert tab_title(run / "cancelled.pt") == "train-20260101-120000-baseline · cancelled"
    assert tab_title(run / "checkpoints" / "epoch-002.pt") == (
        "train-20260101-120000-baseline · epoch-002"
    )
    assert is_run_model(run / "final.pt")


def test_other_files_keep_their_name(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    path = tmp_path / "models" / "final.pt"
    assert tab_title(path) == "final.pt" and not is_run_model(path)
