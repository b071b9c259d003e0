"""Options and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rmt_gui.errors import FileError, RmtGuiError


def add_trust_option(parser: argparse.ArgumentParser) -> None:
    """``--trust``: allow full unpickling of a pickled module (runs code from the file)."""
    parser.add_argument(
        "--trust",
        action="store_true",
        help="allow loading a pickled nn.Module; unpickling runs code from the file, "
        "so only use it for files you trust",
    )


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device auto|cpu|cuda``: where torch runs the numerical work (auto: CUDA if present)."""
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="run the numerical work on the GPU (cuda), the CPU, or the GPU when present (auto)",
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


def finite_or_null(value: Any) -> Any:
    """``value`` with numpy scalars made plain and non-finite floats, at any depth, ``None``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_null(item) for item in value]
    return value


STRICT_JSON = json.JSONEncoder(allow_nan=False)
"""One encoder for every line: ``json.dumps`` with options builds a new one per call."""


def strict_json(value: Any) -> str:
    """``value`` as one line of strict JSON, ``null`` for NaN and infinities.

    The C encoder serves the common case; only a value it refuses (a non-finite float, a numpy
    scalar) is rebuilt by :func:`finite_or_null` first.
    """
    try:
        return STRICT_JSON.encode(value)
    except (TypeError, ValueError):
        return STRICT_JSON.encode(finite_or_null(value))


def _json_member(key: str, value: Any) -> str:
    """One top-level member: a list is written one item per line, anything else on one line."""
    if not isinstance(value, list) or not value:
        return f"  {json.dumps(key)}: {strict_json(value)}"
    items = ",\n".join(f"    {strict_json(item)}" for item in value)
    return f"  {json.dumps(key)}: [\n{items}\n  ]"


def print_json(document: dict[str, Any]) -> None:
    """One strict JSON document on stdout, one line per member and per list item (e.g. a layer).

    NaN and infinities are written as ``null``; each line is encoded by the C encoder, so a
    document of 200,000 layers takes a fraction of a second.
    """
    members = ",\n".join(_json_member(key, value) for key, value in document.items())
    sys.stdout.write(f"{{\n{members}\n}}\n" if members else "{}\n")


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
