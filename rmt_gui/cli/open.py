"""``rmt-gui open FILE...``: open files in the desktop app, one tab each.

When the app is already running, the files open as tabs of its window and the command returns
at once; ``--new-window`` starts a separate app instead.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``open`` subcommand."""
    parser = sub.add_parser("open", help="open model files in the desktop app")
    parser.add_argument("files", nargs="+", metavar="FILE", help="model files, one tab each")
    parser.add_argument(
        "--new-window", action="store_true",
        help="start a separate app, even when one is already running",
    )  # fmt: skip
    parser.set_defaults(run=run)


def launch(files: list[str], new_window: bool = False) -> int:
    """Run the desktop app (Qt is imported only now, so the other commands stay light)."""
    from rmt_gui.ui.app import main

    return main(files, new_window)


def run(args: argparse.Namespace) -> int:
    """Open the files in the running app, or start it; returns when its window closes."""
    return launch(args.files, args.new_window)
