"""A sweep spec in TOML: base training options, grid axes and seeds, expanded into trials.

::

    seeds = [0, 1, 2]          # one trial per seed in every cell (default [0])
    [base]                     # options of ``rmt-gui train`` (underscores or dashes), for all
    epochs = 3
    dims = [784, 1000, 10]     # or "784,1000,10"
    [grid]                     # axes: an option and its values; the cells are their product
    keep_noise = [0.3, 0.45]
    no_prune = [true, false]

Option values are read by the ``train`` command's own parser (the caller passes it in as
``to_config``), so a spec accepts exactly what the command line does. A trial's id names its cell
and seed (``keep_noise=0.3_no_prune=false_seed=0``), stable across runs of the same spec; a value
that is not plain text (a ``/`` in it, say) is written as a short hash instead.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmt_gui.errors import FileError, RmtGuiError, one_line
from rmt_gui.jobs.config import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found]

OptionsToConfig = Callable[[Mapping[str, Any]], TrainConfig]
"""Turns train options (name → TOML value) into a validated config; raises :class:`RmtGuiError`
naming the bad option."""

SECTIONS = ("seeds", "base", "grid")
PLAIN_VALUE = re.compile(r"[A-Za-z0-9.+-]{1,40}")
MAX_ID_LENGTH = 200


@dataclass(frozen=True)
class Trial:
    """One training run of the sweep: a cell of the grid (axis values in spec order), a seed."""

    id: str
    cell: tuple[tuple[str, Any], ...]
    seed: int
    config: TrainConfig

    @property
    def label(self) -> str:
        """The cell, written ``keep_noise=0.3, no_prune=false`` (``base`` without axes)."""
        return cell_label(self.cell)


@dataclass(frozen=True)
class GridSpec:
    """A parsed spec: its file, the grid axes, the seeds and every trial (cell-major)."""

    path: Path
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    seeds: tuple[int, ...]
    trials: tuple[Trial, ...]

    @property
    def cells(self) -> list[str]:
        """The cells' labels in grid order."""
        return list(dict.fromkeys(trial.label for trial in self.trials))


def cell_label(cell: tuple[tuple[str, Any], ...]) -> str:
    """``axis=value`` pairs joined by commas, values as TOML writes them."""
    return ", ".join(f"{name}={_toml_text(value)}" for name, value in cell) or "base"


def _toml_text(value: Any) -> str:
    """``true``, ``0.3``, ``end`` or ``[784, 32, 10]``: a value as the spec wrote it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_text(item) for item in value) + "]"
    return str(value)


def _id_part(value: Any) -> str:
    """A value for a folder name: its text when plain, else ``h`` and 8 hex digits of its hash."""
    text = "x".join(map(str, value)) if isinstance(value, list) else _toml_text(value)
    if PLAIN_VALUE.fullmatch(text):
        return text
    return "h" + hashlib.sha1(repr(value).encode()).hexdigest()[:8]


def trial_id(cell: tuple[tuple[str, Any], ...], seed: int) -> str:
    """``axis=value_..._seed=N``, a folder name (hashed whole when it would be too long)."""
    text = "_".join(f"{name}={_id_part(value)}" for name, value in (*cell, ("seed", seed)))
    if len(text) <= MAX_ID_LENGTH:
        return text
    return "trial-" + hashlib.sha1(text.encode()).hexdigest()[:16]


def _read_toml(path: Path) -> dict[str, Any]:
    """The spec file's tables, or a one-line :class:`FileError`."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise FileError(path, "does not exist") from exc
    except OSError as exc:
        raise FileError(path, f"cannot be read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise FileError(path, f"is not valid TOML: {one_line(exc)}") from exc


def _option_name(key: str) -> str:
    """A spec key as the option's Python name (``keep-noise`` → ``keep_noise``)."""
    return key.replace("-", "_")


def _table(spec: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    """Section ``[name]`` with option names normalised (empty when absent)."""
    table = spec.get(name, {})
    if not isinstance(table, dict):
        raise FileError(path, f"{name}: must be a table ([{name}])")
    options = {_option_name(key): value for key, value in table.items()}
    if "seed" in options:
        raise FileError(path, f"{name}.seed: give the seeds as a top-level seeds = [...]")
    return options


def _seeds(spec: dict[str, Any], path: Path) -> tuple[int, ...]:
    """The top-level ``seeds`` list: distinct integers, ``(0,)`` when absent."""
    seeds = spec.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise FileError(path, "seeds: must be a non-empty list of integers, e.g. seeds = [0, 1]")
    if len(set(seeds)) != len(seeds):
        raise FileError(path, f"seeds: {seeds} lists a seed twice")
    return tuple(seeds)


def _axes(
    grid: dict[str, Any], base: dict[str, Any], path: Path
) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """The grid's axes as (option, values): each a non-empty list of distinct values."""
    axes = []
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise FileError(path, f"grid.{name}: must be a non-empty list of values")
        if len({repr(v) for v in values}) != len(values):
            raise FileError(path, f"grid.{name}: lists a value twice")
        if name in base:
            raise FileError(path, f"grid.{name}: also set in [base]; give it in one place")
        axes.append((name, tuple(values)))
    return tuple(axes)


def _checked(
    to_config: OptionsToConfig, options: Mapping[str, Any], path: Path, where: str
) -> TrainConfig:
    """``to_config(options)``, its error reported against the spec file and ``where``."""
    try:
        return to_config(options)
    except RmtGuiError as exc:
        raise FileError(path, f"{where}: {one_line(exc)}") from exc


def load_spec(
    path: str | Path,
    to_config: OptionsToConfig,
    *,
    defaults: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> GridSpec:
    """Read and check a spec; every trial's config is built (and so validated) here.

    ``defaults`` apply where the spec sets nothing (e.g. threads per trial), ``overrides`` win
    over it (e.g. a ``--data`` folder given to the command). Errors name the file and the key.
    """
    path = Path(path)
    spec = _read_toml(path)
    unknown = sorted(set(spec) - set(SECTIONS))
    if unknown:
        raise FileError(path, f"{unknown[0]}: unknown key (a spec has seeds, [base] and [grid])")
    base, grid, seeds = _table(spec, "base", path), _table(spec, "grid", path), _seeds(spec, path)
    for name, value in base.items():
        _checked(to_config, {name: value}, path, f"base.{name}")
    axes = _axes(grid, base, path)
    for name, values in axes:
        for value in values:
            _checked(to_config, {name: value}, path, f"grid.{name} = {_toml_text(value)}")
    fixed = {**(defaults or {}), **base}
    trials = []
    for values in itertools.product(*(values for _, values in axes)):
        cell = tuple(zip((name for name, _ in axes), values, strict=True))
        for seed in seeds:
            options = {**fixed, **dict(cell), "seed": seed, **(overrides or {})}
            where = f"grid cell {cell_label(cell)}, seed {seed}"
            config = _checked(to_config, options, path, where)
            trials.append(Trial(trial_id(cell, seed), cell, seed, config))
    return GridSpec(path, axes, seeds, tuple(trials))
