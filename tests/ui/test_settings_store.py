"""Settings in QSettings: version 0 stores migrate, hand-edited files never crash, widgets
show and give back every field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.state.settings_schema import SETTINGS_VERSION, PruneSettings, TrainSettings
from rmt_gui.ui.settings import OPTIONS_KEY, VERSION_0_KEYS, AppSettings, ini_settings


def store_at(path: Path) -> AppSettings:
    """The app's settings kept in the INI file ``path``."""
    return AppSettings(ini_settings(path))


def test_a_version_0_store_is_read_then_rewritten_in_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    old = store_at(path)
    old.store.setValue("options/view", json.dumps({"eval_count": 700, "plot": {"bins": 90}}))
    old.store.setValue("options/train", json.dumps({"epochs": 4, "prune": False}))
    old.sync()
    settings = store_at(path)
    assert settings.view().eval_count == 700 and settings.view().plot == PlotOptions(bins=90)
    assert (settings.train().epochs, settings.train().pruning) == (4, False)
    settings.set_view(dataclasses.replace(settings.view(), sweep_points=5))
    settings.sync()
    again = store_at(path)
    assert not any(again.store.contains(key) for key in VERSION_0_KEYS.values())
    doc = json.loads(again.store.value(OPTIONS_KEY))
    assert doc["version"] == SETTINGS_VERSION and doc["train"] == {"epochs": 4, "pruning": False}
    assert (again.view().sweep_points, again.view().eval_count) == (5, 700)
    assert again.train().pruning is False


@pytest.mark.parametrize(
    "text",
    [
        "[options]\ndocument=not json\n",
        '[options]\ndocument="{\\"version\\": 1, \\"view\\": {\\"eval_count\\": \\"many\\"}}"\n',
        pytest.param(
            "[options]\ndocument=1, 2, 3\nview=[\ntrain=@Variant(\\0\\0\\0\\x7f)\n",
            marks=pytest.mark.qt_log_ignore("QVariant::load: unknown user type"),
        ),
        '[options]\nview="{\\"plot\\": {\\"bins\\": 1e999}, \\"sweep_points\\": 6}"\n',
        "[General]\nrecent_files=a\\0b, /nonexistent, 3\ndata_folder=1, 2\n",
        "\x00\xff garbage [[[\n",
    ],
)
def test_a_hand_edited_file_never_crashes_and_keeps_what_it_can(tmp_path: Path, text: str) -> None:
    path = tmp_path / "settings.ini"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    settings = store_at(path)
    view, train = settings.view(), settings.train()
    assert view.plot.bins == 60 and view.eval_count == 10_000
    assert view.sweep_points == (6 if "sweep_points" in text else 16)
    assert train == TrainSettings.paper()
    assert settings.recent_files() == [] and settings.data_folder() is None
    settings.set_train(dataclasses.replace(train, epochs=2))
    assert store_at(path).train().epochs == 2


def test_recent_files_skip_entries_that_are_not_existing_paths(tmp_path: Path) -> None:
    real = tmp_path / "model.pt"
    real.write_bytes(b"")
    settings = store_at(tmp_path / "settings.ini")
    settings.store.setValue("recent_files", [str(real), "bad\0name", "", str(tmp_path / "gone")])
    assert settings.recent_files() == [real]


def test_the_prune_panel_shows_and_returns_every_field(qtbot) -> None:
    from rmt_gui.ui.prune_panel import PrunePanel

    chosen = PruneSettings("energy", 0.3, 12, 0.8, 0.25, 4, False, True, "selected")
    panel = PrunePanel(chosen)
    qtbot.addWidget(panel)
    assert panel.options() == chosen
    assert PrunePanel(dataclasses.replace(chosen, method="unknown")).options().method == "bema"


def test_the_train_form_shows_and_returns_every_field(qtbot) -> None:
    from rmt_gui.ui.train_options import TrainOptions

    chosen = dataclasses.replace(
        TrainSettings.paper(), dims="784,64,10", epochs=3, lr=0.05, momentum=0.8, batch_size=32,
        seed=7, limit_train=3200, limit_test=500, pruning=False, every=50, every_unit="steps",
        first_cut="end", variant="shrink", keep_noise=0.2, schedule="linear:0.2:0.6",
        shrink_factor=0.4, fit_threshold=0.05, skip_poor_fit=False, factorize=False,
        min_rank=3, formula="notebook", alpha=0.1, beta=0.2, compare=True,
        output="/tmp/runs", snapshots_per_second=2,
    )  # fmt: skip
    form = TrainOptions(chosen)
    qtbot.addWidget(form)
    assert form.options() == chosen
    form.reset()
    assert form.options() == dataclasses.replace(TrainSettings.paper(), output="/tmp/runs")
