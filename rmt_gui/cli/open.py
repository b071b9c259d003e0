"""``rmt-gui open FILE...``: start the desktop app with these files open, one tab each."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``open`` subcommand."""
    parser = sub.add_parser("open", help="open model files in the desktop app")
    parser.add_argument("files", nargs="+", metavar="FILE", help="model files, one tab each")
    parser.set_defaults(run=run)


def launch(files: list[str]) -> int:
    """Run the desktop app (Qt is imported only now, so the other commands stay light)."""
    from rmt_gui.ui.app import main

    return main(files)


def run(args: argparse.Namespace) -> int:
    """Open the files in the app; returns when the window closes."""
    return launch(args.files)
