"""The settings schema: defaults, field-by-field fallback, migration from version 0."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmt_gui.state.plot_data import PlotOptions
from rmt_gui.state.settings_schema import (
    SETTINGS_VERSION,
    PruneSettings,
    TrainSettings,
    ViewSettings,
    clean,
    decode,
    encode,
    migrate,
    read,
    with_section,
)

VERSION_0_VIEW = {
    "plot": {"scale": "singular", "log": False, "bins": 80},
    "prune": {
        "method": "energy", "keep_noise": 0.3, "rank": 12, "energy": 0.8,
        "shrink_factor": 0.25, "min_rank": 4, "factorize": False, "skip_poor_fit": True,
        "scope": "selected",
    },
    "eval_count": 2000, "sweep_points": 8, "sweep_log": False,
}  # fmt: skip
"""What ``MainWindow.save_settings`` wrote to ``options/view`` before the schema."""
VERSION_0_TRAIN = {
    "dims": "784,64,10", "epochs": 3, "lr": 0.05, "momentum": 0.8, "batch_size": 32,
    "seed": 7, "limit_train": 3200, "limit_test": 500, "prune": False, "every": 50,
    "every_unit": "steps", "first_cut": "end", "variant": "shrink", "keep_noise": 0.2,
    "schedule": "linear:0.2:0.6", "shrink_factor": 0.4, "fit_threshold": 0.05,
    "skip_poor_fit": False, "factorize": False, "min_rank": 3, "formula": "notebook",
    "alpha": 0.1, "beta": 0.2, "compare": True, "output": "/tmp/runs",
    "snapshots_per_second": 2,
}  # fmt: skip
"""What ``TrainOptions.options`` wrote to ``options/train`` before the schema."""

NAMES = st.sampled_from(
    [f.name for cls in (ViewSettings, TrainSettings, PlotOptions) for f in dataclasses.fields(cls)]
    + ["junk"]
)
LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4)
JSON = LEAVES | st.lists(LEAVES, max_size=2) | st.dictionaries(NAMES, LEAVES, max_size=3)
GROUPS = st.dictionaries(NAMES, JSON, max_size=8) | JSON
"""Settings groups as a hand-edited file might hold them: mostly known keys, any values."""


@pytest.fixture(scope="module")
def paper() -> TrainSettings:
    """The Train tab's defaults (built once: it loads the training config and scipy)."""
    return TrainSettings.paper()


def test_version_0_settings_migrate_with_every_value_kept(paper: TrainSettings) -> None:
    doc = migrate({"view": VERSION_0_VIEW, "train": VERSION_0_TRAIN})
    assert doc["version"] == SETTINGS_VERSION
    view = read(ViewSettings, doc["view"], ViewSettings())
    assert view == ViewSettings(
        PlotOptions("singular", False, 80), PruneSettings(**VERSION_0_VIEW["prune"]), 2000, 8, False
    )
    train = read(TrainSettings, doc["train"], paper)
    expected = {("pruning" if k == "prune" else k): v for k, v in VERSION_0_TRAIN.items()}
    assert dataclasses.asdict(train) == expected
    assert train.pruning is False


def test_an_empty_store_gives_the_paper_defaults(paper: TrainSettings) -> None:
    doc = migrate({"view": {}, "train": {}})
    assert read(ViewSettings, doc["view"], ViewSettings()) == ViewSettings()
    assert read(TrainSettings, doc["train"], paper) == paper
    assert (paper.dims, paper.epochs, paper.lr, paper.batch_size) == ("784,1000,10", 10, 0.08, 128)
    assert (paper.keep_noise, paper.variant, paper.pruning) == (0.45, "keep", True)


def test_the_prune_panel_default_is_the_papers_fraction() -> None:
    from rmt_gui.model.rule import PAPER_KEEP_NOISE

    assert PruneSettings().keep_noise == PAPER_KEEP_NOISE


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("eval_count", "500"), ("eval_count", True), ("eval_count", 2.5), ("eval_count", 2**40),
        ("eval_count", None), ("eval_count", float("nan")), ("sweep_points", [4]),
        ("sweep_log", 1), ("sweep_log", "yes"), ("plot", "eigen"), ("prune", [1, 2]),
    ],
)  # fmt: skip
def test_a_wrong_value_costs_only_its_own_field(field: str, bad: object) -> None:
    raw = {"eval_count": 500, "sweep_points": 4, "sweep_log": False, field: bad, "extra": 1}
    view = read(ViewSettings, raw, ViewSettings())
    assert getattr(view, field) == getattr(ViewSettings(), field)
    kept = {"eval_count": 500, "sweep_points": 4, "sweep_log": False}
    assert all(getattr(view, k) == v for k, v in kept.items() if k != field)


@pytest.mark.parametrize(
    ("plot", "expected"),
    [
        ({"scale": "log", "log": False, "bins": 30}, PlotOptions("eigen", False, 30)),
        ({"scale": "singular", "bins": 0}, PlotOptions("singular", True, 60)),
        ({"bins": 100_000, "log": "false"}, PlotOptions()),
        ({"bins": -5, "scale": 1}, PlotOptions()),
        ({"bins": 400.0}, PlotOptions(bins=400)),
    ],
)
def test_plot_options_are_checked_field_by_field(plot: dict, expected: PlotOptions) -> None:
    assert read(ViewSettings, {"plot": plot}, ViewSettings()).plot == expected


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("epochs", 3.0, 3), ("lr", 1, 1.0), ("lr", float("inf"), 0.08), ("lr", 10**400, 0.08),
        ("lr", "0.1", 0.08), ("every_unit", "hours", "epochs"), ("every_unit", "steps", "steps"),
        ("pruning", 0, True), ("dims", [784, 10], "784,1000,10"), ("seed", -1, -1),
    ],
)  # fmt: skip
def test_train_fields_take_only_their_type(
    paper: TrainSettings, field: str, value: object, expected: object
) -> None:
    train = read(TrainSettings, {field: value}, paper)
    assert getattr(train, field) == expected
    assert type(getattr(train, field)) is type(getattr(paper, field))


@pytest.mark.parametrize("raw", [None, [], "view", 3, {"version": "1"}, {"version": -2}])
def test_anything_migrates_to_a_current_document(raw: object) -> None:
    doc = migrate(raw)
    assert doc["version"] == SETTINGS_VERSION
    assert read(ViewSettings, doc.get("view"), ViewSettings()) == ViewSettings()


def test_a_newer_document_is_read_as_it_is(paper: TrainSettings) -> None:
    doc = migrate({"version": SETTINGS_VERSION + 5, "train": {"prune": False, "epochs": 2}})
    train = read(TrainSettings, doc["train"], paper)
    assert (train.epochs, train.pruning) == (2, True)


def test_writing_one_group_keeps_the_valid_fields_of_the_other() -> None:
    doc = migrate({"view": {"eval_count": 700, "junk": [1]}, "train": {"epochs": 4, "lr": "x"}})
    doc = with_section(doc, "view", ViewSettings(sweep_points=9))
    assert doc["train"] == {"epochs": 4}
    assert doc["view"]["sweep_points"] == 9 and doc["view"]["eval_count"] == 10_000
    assert set(doc) == {"version", "view", "train", "files"}
    assert read(ViewSettings, decode(encode(doc))["view"], ViewSettings()) == ViewSettings(
        sweep_points=9
    )


@pytest.mark.parametrize("text", [None, 3, "", "{", "[" * 100_000, "NaN", '{"view": 1}'])
def test_unreadable_text_decodes_to_something_harmless(text: object) -> None:
    doc = migrate(decode(text))
    assert read(ViewSettings, doc.get("view"), ViewSettings()) == ViewSettings()


@settings(max_examples=60, deadline=None)
@given(view=GROUPS, train=GROUPS, version=LEAVES)
def test_any_json_reads_to_valid_settings(
    paper: TrainSettings, view: object, train: object, version: object
) -> None:
    doc = migrate({"version": version, "view": view, "train": train})
    for cls, raw, default in ((ViewSettings, doc.get("view"), ViewSettings()),
                              (TrainSettings, doc.get("train"), paper)):  # fmt: skip
        value = read(cls, raw, default)
        for item in dataclasses.fields(value):
            got, want = getattr(value, item.name), getattr(default, item.name)
            assert type(got) is type(want)
            assert not isinstance(got, float) or math.isfinite(got)
        assert clean(cls, dataclasses.asdict(value)) == dataclasses.asdict(value)
    text = encode(with_section(doc, "view", ViewSettings()))
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in {text}"))


def test_the_schema_loads_without_qt_or_scipy() -> None:
    code = (
        "import sys, rmt_gui.state.settings_schema; "
        "print(sorted(m for m in ('PySide6', 'scipy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
