"""``rmt-gui open PATH...``: open files or model folders in the desktop app, one tab each.

When the app is already running, the files open as tabs of its window and the command returns
at once; ``--new-window`` starts a separate app instead.
"""

from __future__ import annotations

import argparse

from rmt_gui.cli.desktop_libs import check_desktop


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``open`` subcommand."""
    parser = sub.add_parser("open", help="open model files or folders in the desktop app")
    parser.add_argument(
        "files", nargs="+", metavar="PATH",
        help="model files, Hugging Face model folders or PEFT adapter folders, one tab each",
    )  # fmt: skip
    parser.add_argument(
        "--new-window", action="store_true",
        help="start a separate app, even when one is already running",
    )  # fmt: skip
    parser.set_defaults(run=run)


def launch(files: list[str], new_window: bool = False) -> int:
    """Run the desktop app (Qt is imported only now, so the other commands stay light), once
    the system libraries and display it needs are known to be there (else one line, exit 1)."""
    check_desktop()
    from rmt_gui.ui.app import main

    return main(files, new_window)


def run(args: argparse.Namespace) -> int:
    """Open the files in the running app, or start it; returns when its window closes."""
    return launch(args.files, args.new_window)
