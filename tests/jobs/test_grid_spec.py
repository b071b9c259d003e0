"""Sweep specs: TOML sections, the grid's product as trials with stable ids, one-line errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from rmt_gui.cli.sweep import TrainOptions
from rmt_gui.errors import FileError
from rmt_gui.jobs.config import ConfigError, TrainConfig
from rmt_gui.jobs.grid_spec import load_spec, trial_id

SPEC = """
seeds = [3, 4]
[base]
dims = [784, 32, 10]
epochs = 2
limit-test = 100
[grid]
keep_noise = [0.2, 0.45]
no_prune = [false, true]
"""


def write(tmp_path: Path, text: str) -> Path:
    """The spec ``text`` as ``tmp_path/spec.toml``."""
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_trials_are_the_product_of_the_axes_times_the_seeds(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, SPEC), TrainOptions().to_config)
    assert [t.id for t in spec.trials[:3]] == [
        "keep_noise=0.2_no_prune=false_seed=3",
        "keep_noise=0.2_no_prune=false_seed=4",
        "keep_noise=0.2_no_prune=true_seed=3",
    ]
    assert len({t.id for t in spec.trials}) == len(spec.trials) == 8
    assert spec.cells[1] == "keep_noise=0.2, no_prune=true"
    first, baseline = spec.trials[0].config, spec.trials[2].config
    assert (first.dims, first.epochs, first.limit_test, first.seed) == ((784, 32, 10), 2, 100, 3)
    assert first.prune is not None and first.prune.rule.keep_noise == 0.2
    assert baseline.prune is None
    assert spec.trials[7].config.seed == 4


def test_ids_are_stable_and_odd_values_are_hashed(tmp_path: Path) -> None:
    text = '[grid]\nkeep_noise_schedule = ["linear:0.2:0.6", "0.2,0.3"]\ndims = [[784, 10]]\n'
    ids = [t.id for t in load_spec(write(tmp_path, text), TrainOptions().to_config).trials]
    again = [t.id for t in load_spec(write(tmp_path, text), TrainOptions().to_config).trials]
    assert ids == again
    assert ids[0].startswith("keep_noise_schedule=h") and ids[0].endswith("_dims=784x10_seed=0")
    assert ids[0] != ids[1]
    assert trial_id((), 7) == "seed=7"
    assert len(trial_id((("dims", list(range(300))),), 0)) < 100


def test_defaults_fill_in_and_overrides_win(tmp_path: Path) -> None:
    path = write(tmp_path, '[base]\nthreads = 3\ndata = "here"\n')
    spec = load_spec(
        path, TrainOptions().to_config, defaults={"threads": 1}, overrides={"data": "there"}
    )
    assert (spec.trials[0].config.threads, spec.trials[0].config.data_root) == (3, "there")
    plain = load_spec(
        write(tmp_path, "seeds = [1]\n"), TrainOptions().to_config, defaults={"threads": 2}
    )
    assert plain.trials[0].config.threads == 2 and plain.cells == ["base"]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("seeds = [0\n", ("is not valid TOML",)),
        ("speed = 1\n", ("speed: unknown key",)),
        ("seeds = []\n", ("seeds: must be a non-empty list",)),
        ("seeds = [1, true]\n", ("seeds: must be a non-empty list",)),
        ("seeds = [1, 1]\n", ("seeds:", "twice")),
        ("base = 3\n", ("base: must be a table",)),
        ("[base]\nseed = 1\n", ("base.seed: give the seeds as a top-level seeds",)),
        ("[base]\nepoch = 1\n", ("base.epoch: not an option of rmt-gui train",)),
        ("[base]\nout = 'x'\n", ("base.out: not an option",)),
        ("[base]\nepochs = 'many'\n", ("base.epochs: argument --epochs: invalid int value",)),
        ("[base]\nepochs = true\n", ("base.epochs: --epochs takes a value",)),
        ("[base]\nno_prune = 1\n", ("base.no_prune: --no-prune takes true or false",)),
        ("[base]\nepochs = 0\n", ("base.epochs: epochs must be at least 1",)),
        ("[base]\nvariant = 'cut'\n", ("base.variant:", "invalid choice")),
        ("[grid]\nlr = 0.1\n", ("grid.lr: must be a non-empty list",)),
        ("[grid]\nlr = [0.1, 0.1]\n", ("grid.lr: lists a value twice",)),
        ("[grid]\nlr = [0.1, -1]\n", ("grid.lr = -1: learning rate must be positive",)),
        ("[base]\nlr = 0.1\n[grid]\nlr = [0.2]\n", ("grid.lr: also set in [base]",)),
    ],
)
def test_errors_name_the_file_and_the_key(
    tmp_path: Path, text: str, parts: tuple[str, ...]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FileError) as raised:
        load_spec(path, TrainOptions().to_config)
    line = str(raised.value)
    assert line.startswith(f"{path}: ") and "\n" not in line
    for part in parts:
        assert part in line, line


def test_a_cell_whose_options_clash_is_named(tmp_path: Path) -> None:
    options = TrainOptions()

    def to_config(values: Mapping[str, Any]) -> TrainConfig:
        """Refuses momentum 0.5 with lr 0.2 only, as a check across options would."""
        if values.get("lr") == 0.2 and values.get("momentum") == 0.5:
            raise ConfigError("lr 0.2 needs another momentum")
        return options.to_config(values)

    path = write(tmp_path, "seeds = [5]\n[grid]\nlr = [0.1, 0.2]\nmomentum = [0.5]\n")
    with pytest.raises(FileError, match=r"grid cell lr=0.2, momentum=0.5, seed 5: lr 0.2 needs"):
        load_spec(path, to_config)


def test_a_missing_spec_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="does not exist"):
        load_spec(tmp_path / "none.toml", TrainOptions().to_config)
