"""Options and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rmt_gui.errors import FileError, RmtGuiError


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


@contextmanager
def about(path: str | Path) -> Iterator[None]:
    """Turn an error that does not name a file into one about ``path`` (one line, as always)."""
    try:
        yield
    except FileError:
        raise
    except RmtGuiError as exc:
        raise FileError(path, str(exc)) from exc


def add_layer_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--layer NAME`` (repeatable): restrict the command to these weights."""
    parser.add_argument("--layer", action="append", metavar="NAME", help=help_text)


def check_layers(path: str | Path, wanted: list[str], known: list[str]) -> None:
    """Refuse layer names the file does not have, listing what it does have."""
    missing = [name for name in wanted if name not in known]
    if missing:
        shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        raise FileError(path, f"no layer named {', '.join(missing)} (layers: {shown})")
