"""``rmt-gui train --resume``: a killed run goes on to the same model; refusals are one line."""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rmt_gui.cli import main
from tests.helpers.paths import DATA_DIR, REPO
from tests.helpers.training_runs import (
    assert_logs_match,
    assert_same_model,
    copy_run,
    simulate_kill_after,
)

SMALL = [
    "train", "--dims", "784,32,10", "--epochs", "2", "--limit-train", "400", "--limit-test",
    "100", "--batch-size", "100", "--prune-every-steps", "3", "--data", str(DATA_DIR),
    "--threads", "1",
]  # fmt: skip
# 60 steps per epoch, a cut at the start of each (the second and third after the kill), f from
# a schedule, random noise subsets: everything a resume has to restore.
KILLED = [
    "train", "--dims", "784,32,10", "--epochs", "3", "--limit-train", "600", "--limit-test",
    "100", "--batch-size", "10", "--variant", "random", "--keep-noise-schedule",
    "linear:0.3:0.6", "--prune-poor-fits", "--data", str(DATA_DIR), "--threads", "1",
]  # fmt: skip


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-epoch run."""
    run_dir = tmp_path_factory.mktemp("cli-reference") / "run"
    assert main([*SMALL, "--out", str(run_dir)]) == 0
    return run_dir


@pytest.fixture
def killed(reference: Path, tmp_path: Path) -> Path:
    """The reference run as if killed just after its first epoch's checkpoint."""
    run_dir = copy_run(reference, tmp_path / "run")
    simulate_kill_after(run_dir, 1)
    return run_dir


def digest(run_dir: Path) -> dict[str, str]:
    """A fingerprint of every file in a run folder."""
    return {
        str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_uninterrupted_model(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rmt_gui", *KILLED, "--out", str(run_dir)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    first, deadline = run_dir / "checkpoints" / "epoch-001.pt", time.monotonic() + 180
    while not first.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint after 180 s"
        time.sleep(0.005)
    proc.kill()
    proc.communicate(timeout=60)
    assert not (run_dir / "final.pt").exists(), "the run ended before it was killed"
    assert main(["train", "--resume", str(run_dir), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert f"resuming {run_dir} from {run_dir / 'checkpoints'}" in out and "finished:" in out
    assert main([*KILLED, "--out", str(tmp_path / "reference")]) == 0
    assert_same_model(run_dir / "final.pt", tmp_path / "reference" / "final.pt")
    assert_logs_match(run_dir, tmp_path / "reference")


def test_resume_goes_on_from_the_last_checkpoint(
    reference: Path, killed: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", "--resume", str(killed), "--json", "--epochs", "2"]) == 0
    captured = capsys.readouterr()
    ended = json.loads(captured.out)
    assert ended["status"] == "finished" and ended["model_path"] == str(killed / "final.pt")
    assert f"resuming {killed} from {killed / 'checkpoints' / 'epoch-001.pt'} (step 4)" in (
        captured.err
    )
    assert_same_model(killed / "final.pt", reference / "final.pt")
    assert_logs_match(killed, reference)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "5"], "--epochs 5 conflicts with the run's own setting (--epochs 2)"),
        (["--lr", "0.1"], "--lr 0.1 conflicts with the run's own setting (--lr 0.08)"),
        (["--no-prune"], "--no-prune conflicts with the run's own setting (without --no-prune)"),
        (["--variant", "shrink"], "--variant shrink conflicts"),
        (["--keep-noise", "0.2"], "--keep-noise 0.2 conflicts"),
        (["--limit-train", "500"], "--limit-train 500 conflicts"),
        (["--out", "elsewhere"], "--out cannot be used with --resume"),
        (["--init", "model.pt"], "--init cannot be used with --resume"),
        (["--force"], "--force cannot be used with --resume"),
    ],
)
def test_options_that_would_change_the_run_are_refused(
    extra: list[str], message: str, killed: Path, capsys: pytest.CaptureFixture
) -> None:
    before = digest(killed)
    assert main(["train", "--resume", str(killed), *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rmt-gui: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert digest(killed) == before


def test_a_finished_run_has_nothing_to_resume(
    reference: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", "--resume", str(reference)]) == 1
    err = capsys.readouterr().err
    assert err == f"rmt-gui: error: {reference}: nothing to resume: the run finished all 2 epochs\n"


def test_a_corrupt_last_checkpoint_is_reported_and_skipped(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = copy_run(reference, tmp_path / "run")
    simulate_kill_after(run_dir, 2)
    last = run_dir / "checkpoints" / "epoch-002.pt"
    last.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    assert main(["train", "--resume", str(run_dir)]) == 0
    warning = capsys.readouterr().err.strip().splitlines()[0]
    assert warning.startswith(f"rmt-gui: warning: {last}: unreadable checkpoint")
    assert warning.endswith(f"; resuming from {run_dir / 'checkpoints' / 'epoch-001.pt'}")
    assert_same_model(run_dir / "final.pt", reference / "final.pt")


def test_a_folder_that_is_not_a_run_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", "--resume", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"rmt-gui: error: {tmp_path}: is not a training run folder (no run.json or checkpoints/)\n"
    )
