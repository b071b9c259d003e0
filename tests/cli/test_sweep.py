"""``rmt-gui sweep``: a 4-trial grid on Ray on this machine, resumed; errors in one line."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import psutil
import pytest

from rmt_gui.cli import main
from tests.helpers.cli_errors import error_line
from tests.helpers.paths import DATA_DIR

SPEC = f"""
seeds = [0, 1]
[base]
dims = [784, 32, 10]
epochs = 1
limit_train = 512
limit_test = 256
data = "{DATA_DIR}"
[grid]
keep_noise = [0.2, 0.45]
"""
IDS = [f"keep_noise={f}_seed={s}" for f in ("0.2", "0.45") for s in (0, 1)]


def write_spec(tmp_path: Path, text: str = SPEC) -> Path:
    """The spec as ``tmp_path/grid.toml``."""
    path = tmp_path / "grid.toml"
    path.write_text(text, encoding="utf-8")
    return path


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a summary CSV file."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def ray_processes() -> list[str]:
    """Names of this process's descendants that Ray started (its servers and workers)."""
    names = [child.name() for child in psutil.Process().children(recursive=True)]
    return [name for name in names if "ray" in name.lower() or "gcs" in name.lower()]


@pytest.mark.slow
def test_a_sweep_trains_every_trial_then_skips_them_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    argv = ["sweep", str(write_spec(tmp_path)), "--out", str(out)]
    assert main(argv) == 0
    first = capsys.readouterr().out
    for trial in IDS:
        summary = json.loads((out / "trials" / trial / "run.json").read_text(encoding="utf-8"))
        assert summary["ended"]["status"] == "finished"
        assert summary["started"]["config"]["threads"] == 1
        assert (out / "trials" / trial / "final.pt").is_file()
        assert f"started {trial}" in first and f"finished {trial}: test accuracy" in first
    assert "[4/4] finished" in first
    cells = csv_rows(out / "summary.csv")
    assert [(row["cell"], row["runs"]) for row in cells] == [
        ("keep_noise=0.2", "2"),
        ("keep_noise=0.45", "2"),
    ]
    assert int(float(cells[0]["params"])) < int(float(cells[1]["params"]))
    assert sorted(row["id"] for row in csv_rows(out / "runs.csv")) == sorted(IDS)
    assert "Best cell: keep_noise=" in (out / "table.md").read_text(encoding="utf-8")
    assert (out / "accuracy_per_epoch.png").stat().st_size > 1000
    assert ray_processes() == []

    assert main(argv) == 0
    second = capsys.readouterr().out
    assert second.count("skipped") == 4 and "started" not in second
    assert csv_rows(out / "summary.csv") == cells


def test_without_ray_the_command_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    spec = write_spec(tmp_path)
    line = error_line(capsys, "sweep", str(spec), "--out", str(tmp_path / "out"))
    assert line == (
        "rmt-gui: error: sweeps run on Ray, which is not installed: pip install 'rmt-gui[cluster]'"
    )


def test_a_bad_spec_fails_in_one_line_before_ray_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path, "[grid]\nepochs = [1, 0]\n")
    line = error_line(capsys, "sweep", str(spec), "--out", str(tmp_path / "out"))
    assert line.endswith("grid.epochs = 0: epochs must be at least 1, got 0"), line
    assert str(spec) in line
    assert not (tmp_path / "out").exists()


def test_a_finished_trial_with_other_settings_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "out" / "trials" / "seed=0"
    folder.mkdir(parents=True)
    other = {"config": {"epochs": 7}}
    record = {"started": other, "ended": {"status": "finished"}, "checkpoints": []}
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    spec = write_spec(tmp_path, "[base]\nepochs = 1\n")
    line = error_line(capsys, "sweep", str(spec), "--out", str(tmp_path / "out"))
    assert "seed=0: holds a finished run with other settings" in line, line
