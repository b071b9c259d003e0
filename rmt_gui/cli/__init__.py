"""The ``rmt-gui`` command line: subcommands share the core with the desktop app.

With no subcommand the desktop app starts.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from rmt_gui.cli import open as open_command
from rmt_gui.cli import signals
from rmt_gui.errors import RmtGuiError, one_line

COMMANDS = ("analyze", "prune", "compress", "evaluate", "train", "sweep", "open", "compare")
LIGHT_COMMANDS = ("open",)
"""Commands parsed without importing the others: ``rmt-gui open`` hands its files to a running
app at once, without loading scipy and the numeric commands (seconds on a busy machine)."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command module (just ``only``'s when
    given; each module is imported only here)."""
    parser = argparse.ArgumentParser(
        prog="rmt-gui",
        description="Random-matrix-theory (BEMA) spectra and pruning of fully connected layers.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"rmt_gui.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; expected failures print one line and return a non-zero status.

    Commands other than the app stop on SIGTERM as on Ctrl+C (status 130, their temporary files
    removed), and end quietly with status 141 when their reader closes the output pipe.
    """
    given = sys.argv[1:] if argv is None else list(argv)
    light = given[0] if given and given[0] in LIGHT_COMMANDS else None
    args = build_parser(light).parse_args(given)
    _print_any_name()
    app = args.command in (None, "open")
    try:
        with contextlib.nullcontext() if app else signals.stop_signals():
            status = open_command.launch([]) if args.command is None else int(args.run(args) or 0)
            sys.stdout.flush()
    except BaseException as exc:
        return _failure(exc)
    return status


def _print_any_name() -> None:
    """Let stdout print file and layer names that are not valid UTF-8 escaped, not crash on them."""
    if getattr(sys.stdout, "errors", None) == "strict":
        sys.stdout.reconfigure(errors="backslashreplace")


def _say(line: str) -> None:
    """One line on stderr (lost if stderr itself is a closed pipe)."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr)


def _failure(exc: BaseException) -> int:
    """Report ``exc`` in one line and return the exit status; bugs are internal errors (2)."""
    if not isinstance(exc, Exception | KeyboardInterrupt):
        raise exc
    if signals.interrupted(exc):
        _say("rmt-gui: interrupted")
        return signals.INTERRUPTED_STATUS
    if signals.closed_pipe(exc):
        signals.silence_stdout()
        return signals.CLOSED_PIPE_STATUS
    if isinstance(exc, RmtGuiError):
        _say(f"rmt-gui: error: {exc}")
        return 1
    if os.environ.get("RMT_GUI_DEBUG"):
        raise exc
    _say(
        f"rmt-gui: internal error: {type(exc).__name__}: {one_line(exc)} "
        "(set RMT_GUI_DEBUG=1 to see the traceback)"
    )
    return 2
