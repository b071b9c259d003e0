"""Short layer names: the common dotted prefix and ``.weight`` go, unless names would clash."""

from __future__ import annotations

import pytest

from rmt_gui.state.layer_names import common_prefix, natural_key, short_names, shortened
from tests.helpers.long_names import PREFIX, long_names


def test_transformer_names_lose_their_shared_prefix_and_suffix() -> None:
    prefix, short = shortened(long_names(blocks=3))
    assert prefix == PREFIX
    assert short[f"{PREFIX}2.attention.self.query.weight"] == "2.attention.self.query"
    assert len(set(short.values())) == len(short)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["fc1.weight", "fc2.weight"], ["fc1", "fc2"]),
        (["fc1.0.weight", "fc1.1.weight", "fc2.weight"], ["fc1.0", "fc1.1", "fc2"]),
        (["block0", "block1"], ["block0", "block1"]),
        (["net.a.weight"], ["net.a"]),
        (["x.weight", "x"], ["x.weight", "x"]),
        (["a.b.weight", "a.bc.weight"], ["b", "bc"]),
        (["weight", "bias.weight"], ["weight", "bias"]),
    ],
)
def test_short_names(names: list[str], expected: list[str]) -> None:
    assert list(short_names(names).values()) == expected


def test_the_prefix_ends_on_a_dot_and_leaves_a_last_part() -> None:
    assert common_prefix(["enc.layer1.q", "enc.layer2.q"]) == "enc."
    assert common_prefix(["a.b", "a.b"]) == "a."
    assert common_prefix(["only.one"]) == ""


def test_block_numbers_sort_by_value() -> None:
    names = ["layer.10.q", "layer.2.q", "layer.1.k", "layer.1.q"]
    assert sorted(names, key=natural_key) == ["layer.1.k", "layer.1.q", "layer.2.q", "layer.10.q"]
