"""Options and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_trust_option(parser: argparse.ArgumentParser) -> None:
    """``--trust``: allow full unpickling of a pickled module (runs code from the file)."""
    parser.add_argument(
        "--trust",
        action="store_true",
        help="allow loading a pickled nn.Module; unpickling runs code from the file, "
        "so only use it for files you trust",
    )


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data DIR`` and ``--download`` for MNIST."""
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="MNIST root holding MNIST/raw/ (default: $RMT_GUI_DATA, else the user cache folder)",
    )
    parser.add_argument(
        "--download", action="store_true", help="download MNIST into the data folder if missing"
    )


def print_json(document: dict[str, Any]) -> None:
    """One JSON document on stdout."""
    json.dump(document, sys.stdout, indent=2)
    print()
