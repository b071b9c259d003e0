"""``--device auto|cpu|cuda``: the choice, its refusal without CUDA, and CPU results unchanged."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rmt_gui.cli import main
from rmt_gui.errors import RmtGuiError
from rmt_gui.jobs.config import ConfigError, TrainConfig
from rmt_gui.jobs.trainer import cpu_tensors
from rmt_gui.model.device import resolve_device
from tests.helpers.cli_errors import error_line
from tests.helpers.paths import DATA_DIR
from tests.helpers.training_runs import weights

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend torch sees no CUDA device, whatever this machine has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def layers(tmp_path: Path) -> Path:
    """Two small noisy low-rank layers in one .npz file."""
    rng = np.random.default_rng(7)
    signal = rng.standard_normal((120, 3)) @ rng.standard_normal((3, 90))
    path = tmp_path / "layers.npz"
    np.savez(
        path,
        a=(signal + rng.standard_normal((120, 90))).astype(np.float32),
        b=rng.standard_normal((60, 80)).astype(np.float32),
    )
    return path


def test_auto_picks_cuda_only_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_cuda_without_cuda_is_a_user_error(no_cuda: None) -> None:
    with pytest.raises(RmtGuiError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(RmtGuiError, match="must be one of"):
        resolve_device("tpu")


@pytest.mark.parametrize("command", ["analyze", "prune", "evaluate"])
def test_cli_refuses_cuda_in_one_line(
    no_cuda: None, layers: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    extra = ["--out", str(tmp_path / "out.npz"), "--rank", "2"] if command == "prune" else []
    line = error_line(capsys, command, str(layers), *extra, "--device", "cuda")
    assert "--device cuda: CUDA is not available" in line


def test_analyze_is_the_same_on_every_cpu_choice(
    no_cuda: None, layers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = []
    for device in ("cpu", "auto"):
        assert main(["analyze", str(layers), "--json", "--device", device]) == 0
        documents.append(json.loads(capsys.readouterr().out))
    assert documents[0] == documents[1]
    assert documents[0]["layers"][0]["n_signal"] == 3


def test_prune_accepts_the_cpu(
    no_cuda: None, layers: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pruned.npz"
    assert main(["prune", str(layers), "--out", str(out), "--bema", "--device", "cpu"]) == 0
    assert out.exists()


def _bench_gpu(*options: str) -> subprocess.CompletedProcess[str]:
    """Run benchmarks/bench_gpu.py with ``options`` (the repository first on the path)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    script = ROOT / "benchmarks" / "bench_gpu.py"
    return subprocess.run(
        [sys.executable, str(script), *options],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine-without-CUDA answer")
def test_bench_gpu_without_cuda() -> None:
    plain = _bench_gpu()
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines() == [
        "bench_gpu: no CUDA device on this machine (torch.cuda.is_available() is False)"
    ]
    tiny = _bench_gpu("--blocks", "1", "--scale", "0.02", "--images", "256", "--cpu-only")
    assert tiny.returncode == 0, tiny.stderr
    lines = tiny.stdout.splitlines()
    assert "(82, 82)" in lines[0] and "(220, 82)" in lines[0]
    assert lines[1].startswith("analysis per block, cpu") and lines[1].endswith(" ms")
    assert lines[2].startswith("training epoch, cpu")


TRAIN = [
    "train", "--dims", "784,24,10", "--epochs", "1", "--limit-train", "300",
    "--limit-test", "100", "--batch-size", "100", "--prune-every-steps", "2",
    "--data", str(DATA_DIR), "--json",
]  # fmt: skip


def test_train_refuses_cuda_in_one_line_before_any_file(
    no_cuda: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    line = error_line(capsys, *TRAIN, "--out", str(out), "--device", "cuda")
    assert "--device cuda: CUDA is not available" in line
    assert not out.exists()


def test_compress_refuses_cuda_in_one_line(
    no_cuda: None, layers: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "small.pt"
    options = ["--out", str(out), "--target-params", "0.5", "--device", "cuda"]
    line = error_line(capsys, "compress", str(layers), *options)
    assert "--device cuda: CUDA is not available" in line
    assert not out.exists()


@pytest.mark.slow
def test_train_is_the_same_on_every_cpu_choice(
    no_cuda: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    finals = []
    for device in ("cpu", "auto"):
        out = tmp_path / device
        assert main([*TRAIN, "--out", str(out), "--device", device]) == 0
        ended = json.loads(capsys.readouterr().out)
        finals.append((ended, weights(out / "final.pt")))
        assert json.loads((out / "run.json").read_text())["started"]["config"]["device"] == device
    (first, first_weights), (second, second_weights) = finals
    assert first["test_accuracy"] == second["test_accuracy"]
    assert first_weights.keys() == second_weights.keys()
    for name, tensor in first_weights.items():
        torch.testing.assert_close(tensor, second_weights[name], atol=0, rtol=0)


def test_train_config_refuses_an_unknown_device() -> None:
    with pytest.raises(ConfigError, match="device must be one of auto, cpu, cuda"):
        TrainConfig(device="tpu").validate()
    assert TrainConfig.from_json(TrainConfig(device="auto").to_json()).device == "auto"


def test_checkpoint_tensors_are_moved_to_the_cpu() -> None:
    state = {"state": {0: {"momentum_buffer": torch.ones(2)}}, "param_groups": [{"lr": 0.1}]}
    moved = cpu_tensors(state)
    assert moved == {"state": {0: {"momentum_buffer": moved["state"][0]["momentum_buffer"]}},
                     "param_groups": [{"lr": 0.1}]}  # fmt: skip
    assert moved["state"][0]["momentum_buffer"].device == torch.device("cpu")
