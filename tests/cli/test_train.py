"""``rmt-gui train`` on a slice of MNIST: files, output, JSON, Ctrl+C and one-line errors."""

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rmt_gui.cli import main
from rmt_gui.cli.train import Progress
from rmt_gui.model.opener import open_checkpoint
from tests.helpers.paths import DATA_DIR, REPO

SMALL = [
    "train", "--dims", "784,32,10", "--epochs", "2", "--limit-train", "500",
    "--limit-test", "200", "--batch-size", "100", "--data", str(DATA_DIR),
]  # fmt: skip


def test_train_writes_its_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    assert main([*SMALL, "--out", str(out), "--prune-every-steps", "3"]) == 0
    text = capsys.readouterr().out
    assert "cut at step 0" in text and "fc1.weight" in text
    assert "epoch 2/2" in text and "finished: test accuracy" in text
    assert "\r" not in text
    names = {p.name for p in out.iterdir()}
    assert {"final.pt", "metrics.csv", "metrics.jsonl", "steps.csv", "pruning.jsonl"} <= names
    assert {"run.json", "spectra.jsonl", "checkpoints"} <= names
    assert len((out / "metrics.csv").read_text().splitlines()) == 3
    assert len((out / "pruning.jsonl").read_text().splitlines()) == 4
    model = open_checkpoint(out / "final.pt").build_model()
    assert [name for name, _ in model.named_children()] == ["fc1", "fc2"]
    assert main(["evaluate", str(out / "final.pt"), "--data", str(DATA_DIR)]) == 0


def test_baseline_json_and_init(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    first = tmp_path / "base"
    assert main([*SMALL, "--no-prune", "--out", str(first), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "finished" and doc["params"] == 784 * 32 + 32 + 32 * 10 + 10
    assert [layer["shape"] for layer in doc["layers"]] == [[32, 784], [10, 32]]
    assert not (first / "pruning.jsonl").read_text()
    cont = tmp_path / "cont"
    args = ["--init", doc["model_path"], "--out", str(cont), "--json", "--first-cut", "start"]
    assert main([*SMALL, *args]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["layers"][0]["shape"] != [32, 784]


def test_variant_and_schedule_options(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = [
        "--variant",
        "truncate",
        "--keep-noise-schedule",
        "linear:0.2:0.6",
        "--first-cut",
        "end",
    ]
    assert main([*SMALL, *args, "--out", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [layer["shape"] for layer in doc["layers"]] == [[32, 784], [10, 32]]
    cut = json.loads((tmp_path / "pruning.jsonl").read_text().splitlines()[0])
    assert cut["step"] == 5 and cut["keep_noise"] == pytest.approx(0.6)
    assert cut["variant"] == "truncate"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--dims", "784,abc,10"], "--dims needs comma-separated integers"),
        (["--dims", "784,32,11"], "784 to 10"),
        (["--keep-noise", "1.5"], "noise fractions must be in [0, 1]"),
        (["--keep-noise-schedule", "linear:0.1"], "cannot read noise schedule"),
        (["--lr", "0"], "learning rate"),
        (["--data", "/nonexistent/mnist"], "MNIST not found"),
        (["--init", "/nonexistent/model.pt"], "/nonexistent/model.pt"),
    ],
)
def test_bad_options_give_one_line(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main([*SMALL, "--out", str(tmp_path / "run"), *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rmt-gui: error:") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_non_empty_run_folder_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main([*SMALL, "--out", str(tmp_path), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert main([*SMALL, "--out", str(tmp_path), "--epochs", "1", "--force"]) == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_a_checkpoint(tmp_path: Path) -> None:
    args = [
        sys.executable, "-m", "rmt_gui", "train", "--dims", "784,16,10", "--epochs", "200",
        "--limit-train", "2000", "--limit-test", "100", "--batch-size", "10",
        "--data", str(DATA_DIR), "--out", str(tmp_path), "--no-prune",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)  # fmt: skip
    first = proc.stdout.readline()
    assert first.startswith("training"), first + proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "stopping after this step" in err and "Traceback" not in err
    assert "cancelled: test accuracy" in out
    model = open_checkpoint(tmp_path / "cancelled.pt").build_model()
    assert model.fc1.weight.shape == (16, 784)
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["ended"]["status"] == "cancelled"


def test_progress_bar_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = Progress(stream, epochs=3)
    progress.total = 30
    progress.bar(10, 1, 0.5, 2.0)
    progress.line("epoch 1/3 done")
    text = stream.getvalue()
    assert "[########................]  33%" in text and "ETA 4s" in text
    assert text.endswith("\r\033[Kepoch 1/3 done\n")
    plain = io.StringIO()
    Progress(plain, epochs=3).bar(10, 1, 0.5, 2.0)
    assert plain.getvalue() == ""
