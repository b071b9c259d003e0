"""Which layers a table shows: a filter by transformer block and by role, and the roles' labels.

A 200-layer model is navigable once its rows can be cut down to one block or one kind of
weight (every query, every MLP down projection). Roles come from
:mod:`rmt_gui.model.roles`; a role *group* gathers related roles (the attention projections).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.model.roles import (
    ATTENTION_OUTPUT,
    CONV,
    EMBEDDING,
    KEY,
    LINEAR,
    LM_HEAD,
    MLP_DOWN,
    MLP_UP,
    NORM,
    QKV,
    QUERY,
    VALUE,
)

ROLE_LABELS = {
    EMBEDDING: "embedding", LM_HEAD: "LM head", NORM: "norm", QUERY: "query", KEY: "key",
    VALUE: "value", QKV: "query·key·value", ATTENTION_OUTPUT: "attention output",
    MLP_UP: "MLP up", MLP_DOWN: "MLP down", CONV: "conv", LINEAR: "linear",
}  # fmt: skip
"""How a table names each role."""
ROLE_GROUPS = {
    "attention (query, key, value, output)": frozenset({QUERY, KEY, VALUE, QKV, ATTENTION_OUTPUT}),
    "MLP (up, down)": frozenset({MLP_UP, MLP_DOWN}),
    "embeddings, heads, norms": frozenset({EMBEDDING, LM_HEAD, NORM}),
}
"""Groups of roles a filter can pick at once, besides each single role."""
ANY = "any"
"""The filter value that lets every block (or role) through."""
OUTSIDE = "outside"
"""The block filter value of layers outside every transformer block (embeddings, heads)."""


def role_label(info: LayerInfo) -> str:
    """The table's name of a layer's role (``query``, ``MLP up``, ...)."""
    return ROLE_LABELS.get(info.role.role, info.role.role)


@dataclass(frozen=True)
class LayerFilter:
    """Rows to show: a block (``ANY``, ``OUTSIDE`` or its index) and a role, a group or ``ANY``."""

    block: int | str = ANY
    role: str = ANY

    def roles(self) -> frozenset[str] | None:
        """The roles let through, ``None`` for all."""
        if self.role == ANY:
            return None
        return ROLE_GROUPS.get(self.role, frozenset({self.role}))

    def accepts(self, info: LayerInfo) -> bool:
        """Whether the layer ``info`` is shown."""
        block = info.role.block
        if self.block == OUTSIDE and block is not None:
            return False
        if isinstance(self.block, int) and block != self.block:
            return False
        roles = self.roles()
        return roles is None or info.role.role in roles


def is_structured(infos: Iterable[LayerInfo]) -> bool:
    """Whether the layers come in blocks or include embeddings, heads or norms (a transformer):
    then roles, blocks and the filter are worth showing; a plain MLP goes without them."""
    return any(not info.role.prunable or info.role.block is not None for info in infos)


def block_choices(infos: Iterable[LayerInfo]) -> list[int | str]:
    """The block filter's values for these layers: any, each block index, then outside."""
    blocks = {info.role.block for info in infos}
    numbered = sorted(block for block in blocks if block is not None)
    return [ANY, *numbered, *([OUTSIDE] if None in blocks and numbered else [])]


def role_choices(infos: Iterable[LayerInfo]) -> list[str]:
    """The role filter's values: any, each group with a member here, then each role here."""
    present = {info.role.role for info in infos}
    groups = [name for name, members in ROLE_GROUPS.items() if members & present]
    return [ANY, *groups, *(role for role in ROLE_LABELS if role in present)]


def choice_label(value: int | str) -> str:
    """How a filter value reads in its menu: ``block 3``, ``query``, ``any block``..."""
    if isinstance(value, int):
        return f"block {value}"
    if value == OUTSIDE:
        return "outside blocks"
    return ROLE_LABELS.get(value, value)
