"""Short layer names for tables and plot titles: the part that tells the layers apart.

A checkpoint's weights often share a long prefix (``encoder.layer.``) and all end in ``.weight``;
shown whole they elide to the same few characters. :func:`short_names` drops both, on dot
boundaries only, and keeps the full names wherever that would make two names alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import takewhile

SUFFIX = ".weight"
DIGITS = re.compile(r"\d+")


def _stem(name: str) -> str:
    """``name`` without a trailing ``.weight`` (a bare ``weight`` stays)."""
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) and len(name) > len(SUFFIX) else name


def common_prefix(names: Sequence[str]) -> str:
    """The dotted prefix (ending in ``.``) that every name shares, leaving each a last part.

    Empty for fewer than two names: a lone layer keeps its whole name.
    """
    if len(names) < 2:
        return ""
    heads = zip(*(name.split(".")[:-1] for name in names), strict=False)
    shared = takewhile(lambda parts: len(set(parts)) == 1, heads)
    return "".join(f"{parts[0]}." for parts in shared)


def shortened(names: Sequence[str]) -> tuple[str, dict[str, str]]:
    """The dropped prefix and each name without it and ``.weight``.

    Where that would make two names alike (or one empty), nothing is dropped: ``("", names)``.
    """
    stems = [_stem(name) for name in names]
    prefix = common_prefix(stems)
    short = [stem[len(prefix) :] for stem in stems]
    if len(set(short)) < len(short) or not all(short):
        return "", {name: name for name in names}
    return prefix, dict(zip(names, short, strict=True))


def short_names(names: Sequence[str]) -> dict[str, str]:
    """Each name as :func:`shortened` shows it."""
    return shortened(names)[1]


def natural_key(name: str) -> str:
    """A sort key that orders block numbers by value (``layer.2`` before ``layer.10``)."""
    return DIGITS.sub(lambda number: number.group().zfill(12), name)
