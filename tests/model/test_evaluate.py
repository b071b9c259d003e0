"""MNIST evaluation on preloaded tensors, and where the data comes from."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rmt_gui.errors import CancelledError, FileError
from rmt_gui.model import data as data_module
from rmt_gui.model.data import has_mnist, load_mnist, resolve_data_root, user_cache_dir
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.tree import NotRunnableError, tree_from_state_dict
from tests.helpers.model_files import PlainNet, centroid_state, mlp
from tests.helpers.paths import DATA_DIR

COUNT = 600


@pytest.fixture(scope="module")
def split():
    return load_mnist(DATA_DIR).head(COUNT)


def test_test_split_is_scaled_once_and_cached() -> None:
    full = load_mnist(DATA_DIR)
    assert full.images.shape == (10_000, 1, 28, 28) and full.images.dtype == torch.float32
    assert full.labels.dtype == torch.int64 and len(full) == 10_000
    assert float(full.images.min()) == 0.0 and float(full.images.max()) == 1.0
    assert load_mnist(DATA_DIR) is full
    assert len(full.head(7)) == 7 and full.head(None) is full


def test_accuracy_and_loss_match_a_hand_computation(split) -> None:
    model = tree_from_state_dict(centroid_state(split.images, split.labels))
    weight, bias = model.fc.weight.detach(), model.fc.bias.detach()
    logp = torch.log_softmax(split.images.reshape(COUNT, 784) @ weight.T + bias, dim=1)
    correct = int((logp.argmax(1) == split.labels).sum())
    loss = float(-logp[torch.arange(COUNT), split.labels].mean())
    result = evaluate(model, split, batch_size=128)
    assert result.count == COUNT
    assert result.accuracy == correct / COUNT
    assert result.accuracy > 0.7
    assert result.loss == pytest.approx(loss, rel=1e-5)
    assert result.seconds > 0
    assert set(result.to_json()) == {"accuracy", "loss", "count", "seconds"}


def test_module_returning_logits_or_wanting_flat_input(split) -> None:
    net = PlainNet()
    flat = evaluate(net, split)
    assert 0.0 <= flat.accuracy <= 1.0

    class Flat(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(784, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    result = evaluate(Flat(), split)
    assert result.count == COUNT


def test_progress_reports_and_can_cancel(split) -> None:
    seen = []
    evaluate(mlp(), split, batch_size=250, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(250, COUNT), (500, COUNT), (600, COUNT)]

    def stop(done: int, total: int) -> None:
        raise CancelledError("stopped")

    model = mlp()
    model.train()
    with pytest.raises(CancelledError):
        evaluate(model, split, batch_size=100, progress=stop)
    assert model.training


def test_state_dict_that_does_not_chain_is_not_runnable(split) -> None:
    model = tree_from_state_dict(
        {"a.weight": torch.randn(20, 784), "b.weight": torch.randn(10, 30)}
    )
    with pytest.raises(NotRunnableError, match="cannot rebuild this architecture"):
        evaluate(model, split)


def test_wrong_output_width_is_not_runnable(split) -> None:
    with pytest.raises(NotRunnableError, match="expected \\[N, 10\\]"):
        evaluate(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 7)), split)


def test_data_root_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RMT_GUI_DATA", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_data_root() == tmp_path / "env"
    monkeypatch.delenv("RMT_GUI_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_data_root() == user_cache_dir() == tmp_path / "cache" / "rmt-gui" / "data"
    assert has_mnist(DATA_DIR) and not has_mnist(tmp_path)


def test_env_variable_is_used_for_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RMT_GUI_DATA", str(DATA_DIR))
    assert len(load_mnist().head(5)) == 5


def test_missing_data_is_a_clear_error_without_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(root: Path) -> None:
        raise AssertionError("download attempted")

    monkeypatch.setattr(data_module, "download_mnist", no_network)
    with pytest.raises(FileError) as info:
        load_mnist(tmp_path / "empty")
    message = str(info.value)
    assert str(tmp_path / "empty") in message and "MNIST not found" in message
    assert "--data" in message and "\n" not in message


def test_download_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def offline(root: Path) -> None:
        calls.append(root)
        raise FileError(root, "could not download MNIST (offline?)")

    monkeypatch.setattr(data_module, "download_mnist", offline)
    with pytest.raises(FileError, match="could not download"):
        load_mnist(tmp_path / "cache", download=True)
    assert calls == [(tmp_path / "cache").resolve()]
