"""Fixtures for the app tests: small trained checkpoints, isolated settings, a main window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from rmt_gui.model.native import save_native
from rmt_gui.model.tree import build_mlp
from rmt_gui.state.settings_schema import ViewSettings
from rmt_gui.ui.app import application
from rmt_gui.ui.main_window import MainWindow
from rmt_gui.ui.settings import AppSettings, ini_settings
from tests.helpers.paths import DATA_DIR


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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After tests wrote screenshots, tile them all into ``tests/screenshots/contact_sheet.png``."""
    from tests.helpers.app_window import SCREENSHOTS
    from tests.helpers.contact_sheet import build_sheet, stale

    if SCREENSHOTS.is_dir() and stale(SCREENSHOTS):
        build_sheet(SCREENSHOTS)
