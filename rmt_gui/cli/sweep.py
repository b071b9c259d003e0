"""``rmt-gui sweep SPEC.toml``: a grid of training runs on Ray, resumable, with a summary.

The spec (:mod:`rmt_gui.jobs.grid_spec`) gives ``rmt-gui train`` options; they are read by the
``train`` command's own parser and checks, so a spec accepts what the command line does, minus
the options about one run's folder and output (``out``, ``force``, ``resume``, ``json``,
``download``, ``init``, ``snapshot_every``). Each trial trains into ``OUT/trials/ID``; a second
run skips the finished ones (:mod:`rmt_gui.jobs.grid_run`); the summary lands in ``OUT``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from rmt_gui.cli import train
from rmt_gui.jobs.config import ConfigError, TrainConfig

NOT_IN_SPECS = frozenset({"out", "force", "resume", "json", "download", "init", "snapshot_every"})


class _OptionError(argparse.ArgumentParser):
    """A parser whose errors raise :class:`ConfigError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        """Raise the parser's complaint as a one-line :class:`ConfigError`."""
        raise ConfigError(message)


class TrainOptions:
    """Spec options (name → TOML value) to a :class:`TrainConfig` through ``rmt-gui train``'s
    parser and :func:`~rmt_gui.cli.train.config_from_args`."""

    def __init__(self) -> None:
        self._parser = _OptionError(prog="rmt-gui", add_help=False)
        train.register(self._parser.add_subparsers(dest="command"))
        defaults = self._parser.parse_args(["train"]).option_defaults
        self._names = {name for name in defaults if name not in NOT_IN_SPECS}
        self._switches = {name for name in self._names if defaults[name] is False}

    def _argv(self, name: str, value: Any) -> list[str]:
        """``--name=value`` (``--name`` for a switch set true, nothing for one set false)."""
        if name not in self._names:
            raise ConfigError("not an option of rmt-gui train that a sweep can set")
        flag = "--" + name.replace("_", "-")
        if (name in self._switches) != isinstance(value, bool):
            wanted = "true or false" if name in self._switches else "a value, not true or false"
            raise ConfigError(f"{flag} takes {wanted}")
        if isinstance(value, bool):
            return [flag] if value else []
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        return [f"{flag}={text}"]

    def to_config(self, options: Mapping[str, Any]) -> TrainConfig:
        """The validated config of one trial (or of a part of the spec being checked)."""
        argv = ["train"]
        for name, value in options.items():
            argv += self._argv(name, value)
        args, _ = train.given_options(self._parser.parse_args(argv))
        return train.config_from_args(args)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    parser = sub.add_parser(
        "sweep",
        help="train a grid of runs from a TOML spec on Ray (resumable)",
        description="Train every cell of a grid of train options times seeds as Ray tasks, "
        "skipping finished trials, then write summary.csv, table.md and plots.",
    )
    parser.add_argument("spec", metavar="SPEC.toml", help="[base] options, [grid] axes, seeds")
    parser.add_argument("--out", metavar="DIR", help="sweep folder (default runs/sweep-SPEC)")
    parser.add_argument(
        "--address", metavar="ADDR",
        help="join this Ray cluster (e.g. auto or ray://HOST:10001); default: Ray on this machine",
    )  # fmt: skip
    parser.add_argument(
        "--cpus-per-trial", type=int, default=1, metavar="N",
        help="Ray CPUs and torch threads per trial (1; the spec's threads wins)",
    )  # fmt: skip
    parser.add_argument("--data", metavar="DIR", help="MNIST root for every trial (over the spec)")
    parser.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Check the spec, run the unfinished trials, print the summary table."""
    from rmt_gui.jobs.grid_run import run_sweep
    from rmt_gui.jobs.grid_spec import load_spec

    spec_path = Path(args.spec)
    overrides = {"data": args.data} if args.data else {}
    defaults = {"threads": args.cpus_per_trial}
    spec = load_spec(spec_path, TrainOptions().to_config, defaults=defaults, overrides=overrides)
    out = Path(args.out or f"runs/sweep-{spec_path.stem}")
    print(
        f"sweep {spec_path}: {len(spec.cells)} cell(s) x {len(spec.seeds)} seed(s) = "
        f"{len(spec.trials)} trials -> {out}",
        flush=True,
    )
    run_sweep(spec, out, address=args.address, cpus_per_trial=args.cpus_per_trial, say=_say)
    print((out / "table.md").read_text(encoding="utf-8"), end="")
    return 0


def _say(line: str) -> None:
    """A progress line, flushed at once (the sweep runs for long)."""
    print(line, flush=True)
