"""Fixtures for the app tests: small trained checkpoints, isolated settings, a main window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PySide6.QtWidgets import QApplication
from torch import nn

from rmt_gui.model.native import save_native
from rmt_gui.model.tree import build_mlp
from rmt_gui.state.settings_schema import ViewSettings
from rmt_gui.ui.app import application
from rmt_gui.ui.main_window import MainWindow
from rmt_gui.ui.settings import AppSettings, ini_settings
from tests.conftest import DATA_DIR

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
WAIT_MS = 60_000


def train_briefly(dims: list[int], steps: int, seed: int = 0) -> nn.Module:
    """A small MLP trained a few hundred SGD steps on MNIST, so its layers have spikes."""
    from rmt_gui.model.data import load_mnist

    torch.manual_seed(seed)
    model = build_mlp(dims, seed=seed)
    data = load_mnist(DATA_DIR, train=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.08, momentum=0.9)
    for _ in range(steps):
        index = torch.randint(0, len(data), (128,))
        loss = nn.functional.nll_loss(model(data.images[index]), data.labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoints written once per session: a trained 784-64-10, a second MLP, a state dict."""
    folder = tmp_path_factory.mktemp("models")
    trained = train_briefly([784, 64, 10], steps=300)
    other = train_briefly([784, 48, 10], steps=100, seed=1)
    paths = {"small": folder / "small.pt", "other": folder / "other.pt"}
    for key, model in (("small", trained), ("other", other)):
        with paths[key].open("wb") as handle:
            save_native(model, handle, ["trained"], {})
    return paths


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    """Settings in a temporary INI file, pointing at the shared MNIST folder."""
    store = AppSettings(ini_settings(tmp_path / "settings.ini"))
    store.set_data_folder(DATA_DIR)
    store.set_view(ViewSettings(eval_count=500, sweep_points=4))
    return store


@pytest.fixture
def window(qtbot, settings: AppSettings) -> Iterator[MainWindow]:
    """A shown main window; closed at the end without the unsaved-work prompt."""
    application()
    win = MainWindow(settings)
    win.resize(1500, 900)
    win.show()
    yield win
    if win.training.panel is not None:
        assert win.training.panel.shutdown(60)
    for view in win.views():
        if view.document is not None:
            view.document.mark_saved()
        view.shutdown()
        assert view.runner.wait(60)
    win.close()
    win.deleteLater()


def open_and_wait(qtbot, win: MainWindow, path: Path, preview: bool = True):
    """Open ``path`` and wait until its spectra (and prune preview) are ready."""
    win.open_paths([path])
    view = win.tabs.currentWidget()
    qtbot.waitUntil(lambda: view.document is not None, timeout=WAIT_MS)
    wait_ready(qtbot, view, preview)
    return view


def wait_ready(qtbot, view, preview: bool = True) -> None:
    """Wait until every layer of the current state is analysed and a preview is shown."""
    qtbot.waitUntil(
        lambda: view.document.analysis().complete and not view.runner.running("open")
        and (not preview or (view.preview is not None
                             and view.preview.model is view.document.model)),
        timeout=WAIT_MS,
    )  # fmt: skip


def save_screenshot(widget, name: str) -> Path:
    """Grab ``widget`` into ``tests/screenshots/NAME.png`` (after pending layout updates)."""
    QApplication.processEvents()
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert widget.grab().save(str(path))
    return path


def small_training(
    panel,
    out: Path,
    *,
    limit: int = 3200,
    epochs: int = 2,
    every: int = 50,
    dims: str = "784,64,10",
    compare: bool = False,
) -> None:
    """Train-panel settings for a short run: batches of 32 from the first ``limit`` images."""
    form = panel.form
    form.dims.setText(dims)
    form.epochs.setValue(epochs)
    form.batch.setValue(32)
    form.limit_train.setValue(limit)
    form.limit_test.setValue(500)
    form.every.setValue(every)
    form.every_unit.setCurrentIndex(form.every_unit.findData("steps"))
    form.compare.setChecked(compare)
    form.out_folder.setText(str(out))
