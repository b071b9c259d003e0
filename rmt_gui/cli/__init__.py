"""The ``rmt-gui`` command line: subcommands share the core with the desktop app.

With no subcommand the desktop app starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rmt_gui.cli import analyze, evaluate, prune, train
from rmt_gui.cli import open as open_command
from rmt_gui.errors import RmtGuiError

COMMANDS = (analyze, prune, evaluate, train, open_command)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command module."""
    parser = argparse.ArgumentParser(
        prog="rmt-gui",
        description="Random-matrix-theory (BEMA) spectra and pruning of fully connected layers.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; expected failures print one line and return a non-zero status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return open_command.launch([])
        return int(args.run(args) or 0)
    except RmtGuiError as exc:
        print(f"rmt-gui: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rmt-gui: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("RMT_GUI_DEBUG"):
            raise
        print(
            f"rmt-gui: internal error: {type(exc).__name__}: {exc} "
            "(set RMT_GUI_DEBUG=1 to see the traceback)",
            file=sys.stderr,
        )
        return 2
