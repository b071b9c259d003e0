"""A sweep trial's task body without Ray: fresh runs, runs resumed after a kill, finished ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmt_gui.errors import FileError
from rmt_gui.jobs.config import TrainConfig
from rmt_gui.jobs.events import CheckpointSaved
from rmt_gui.jobs.grid_run import finished_record, train_trial
from rmt_gui.jobs.grid_spec import Trial
from rmt_gui.jobs.run_log import read_summary
from rmt_gui.jobs.trainer import Trainer
from tests.helpers.paths import DATA_DIR

CONFIG = TrainConfig(
    dims=(784, 16, 10), epochs=2, limit_train=256, limit_test=128, data_root=str(DATA_DIR),
    threads=1,
)  # fmt: skip


class Started(list):
    """Stands in for the Ray queue a trial reports its start to."""

    def put(self, item: tuple[str, str]) -> None:
        """Keep the start report."""
        self.append(item)


def test_a_fresh_trial_trains_and_returns_its_record(tmp_path: Path) -> None:
    trial, started = Trial("seed=0", (), 0, CONFIG), Started()
    assert finished_record(trial, tmp_path / "run") is None
    record = train_trial(trial, str(tmp_path / "run"), started)
    assert [item[0] for item in started] == ["seed=0"]
    assert record.ended["status"] == "finished" and len(record.epochs) == 2
    assert finished_record(trial, tmp_path / "run") == record


def test_a_killed_trial_goes_on_from_its_checkpoint(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    events = Trainer(CONFIG, run_dir=folder).run()
    for event in events:
        if isinstance(event, CheckpointSaved):
            break
    events.close()
    trial = Trial("seed=0", (), 0, CONFIG)
    assert finished_record(trial, folder) is None
    record = train_trial(trial, str(folder), Started())
    assert [e["epoch"] for e in record.epochs] == [1, 2]
    assert read_summary(folder)["resumes"][0]["step"] == record.epochs[0]["step"]


def test_a_finished_trial_with_other_settings_is_refused(tmp_path: Path) -> None:
    train_trial(Trial("seed=0", (), 0, CONFIG), str(tmp_path / "run"), Started())
    other = Trial("seed=0", (), 0, TrainConfig(dims=(784, 16, 10), epochs=3))
    with pytest.raises(FileError, match="holds a finished run with other settings"):
        finished_record(other, tmp_path / "run")
