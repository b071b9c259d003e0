"""What a layer is for, read from its name and shape: embedding, attention query, MLP up, ...

Names follow the usual PyTorch / Hugging Face module paths (BERT ``encoder.layer.3.attention.self
.query``, GPT-2 ``h.3.attn.c_attn``, Llama ``layers.3.self_attn.q_proj``, T5 ``block.3.layer.0
.SelfAttention.q``). Embedding and position tables, ``lm_head`` and norm weights are shown but
not pruned by default: a low-rank cut of a lookup table or a tied output head is not an SVD
pruning of a fully connected layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EMBEDDING = "embedding"
LM_HEAD = "lm_head"
NORM = "norm"
QUERY, KEY, VALUE, QKV = "attention_query", "attention_key", "attention_value", "attention_qkv"
ATTENTION_OUTPUT = "attention_output"
MLP_UP, MLP_DOWN = "mlp_up", "mlp_down"
CONV = "conv"
LINEAR = "linear"
ROLES = (
    EMBEDDING, LM_HEAD, NORM, QUERY, KEY, VALUE, QKV, ATTENTION_OUTPUT, MLP_UP, MLP_DOWN, CONV,
    LINEAR,
)  # fmt: skip
"""Every role, in the order a layer table groups them."""
NOT_PRUNABLE = frozenset({EMBEDDING, LM_HEAD, NORM})
"""Roles shown but left alone by ``prune`` unless named with ``--layer``."""

EMBEDDING_NAMES = frozenset({"wte", "wpe", "shared", "relative_attention_bias"})
HEAD_NAMES = frozenset({"lm_head", "embed_out", "output_projection"})
NORM_NAMES = frozenset({"ln", "ln_f", "ln_1", "ln_2"})
ATTENTION_WORDS = ("attention", "attn", "selfattention", "encdecattention", "crossattention")
MLP_WORDS = ("mlp", "ffn", "feed_forward", "densereludense", "intermediate", "ff")
SIMPLE_NAMES = {
    QUERY: {"query", "q_proj", "q", "wq", "q_lin", "query_proj"},
    KEY: {"key", "k_proj", "k", "wk", "k_lin", "key_proj"},
    VALUE: {"value", "v_proj", "v", "wv", "v_lin", "value_proj"},
    QKV: {"qkv", "c_attn", "query_key_value", "wqkv", "in_proj", "qkv_proj"},
    MLP_UP: {"up_proj", "gate_proj", "fc1", "c_fc", "wi", "wi_0", "wi_1", "lin1", "w1", "w3",
             "dense_h_to_4h", "gate_up_proj"},
    MLP_DOWN: {"down_proj", "fc2", "lin2", "w2", "dense_4h_to_h"},
    ATTENTION_OUTPUT: {"o_proj", "out_proj", "out_lin", "o", "dense_proj"},
}  # fmt: skip
LEAVES = ("weight", "bias")


@dataclass(frozen=True)
class LayerRole:
    """A layer's role (one of :data:`ROLES`) and transformer block index (``None`` outside one)."""

    role: str
    block: int | None

    @property
    def prunable(self) -> bool:
        """Whether ``prune`` cuts this layer by default (embeddings, heads and norms: no)."""
        return self.role not in NOT_PRUNABLE

    def to_json(self) -> dict[str, Any]:
        """``{"role", "block", "prunable"}`` for ``rmt-gui analyze --json``."""
        return {"role": self.role, "block": self.block, "prunable": self.prunable}


def module_parts(name: str) -> list[str]:
    """The module path of a weight name, lower-cased, without its ``weight``/``bias`` leaf."""
    parts = name.lower().split(".")
    return parts[:-1] if len(parts) > 1 and parts[-1] in LEAVES else parts


def block_index(parts: list[str]) -> int | None:
    """The first numeric path part followed by more module path (``layer.3.attention``), else None.

    A number right before the leaf (``net.0.weight`` of an ``nn.Sequential``) is a layer's
    position, not a block.
    """
    return next((int(part) for part in parts[:-1] if part.isdigit()), None)


def _has(parts: list[str], words: tuple[str, ...]) -> bool:
    """Whether any path part contains one of ``words``."""
    return any(word in part for part in parts for word in words)


def _table_role(parts: list[str]) -> str | None:
    """Embedding, output head or norm, from the module path, else ``None``."""
    if any(part in HEAD_NAMES for part in parts) or parts[-2:] == ["predictions", "decoder"]:
        return LM_HEAD
    if _has(parts, ("embed",)) or any(part in EMBEDDING_NAMES for part in parts):
        return EMBEDDING
    last = parts[-1]
    return NORM if "norm" in last or last in NORM_NAMES else None


def _block_role(parts: list[str]) -> str | None:
    """A transformer block's attention or MLP role from the module path, else ``None``."""
    last = parts[-1]
    for role, names in SIMPLE_NAMES.items():
        if last in names:
            return role
    in_attention = _has(parts[:-1], ATTENTION_WORDS)
    if last == "c_proj":
        return ATTENTION_OUTPUT if in_attention else MLP_DOWN
    if last == "wo":
        return MLP_DOWN if _has(parts[:-1], MLP_WORDS) else ATTENTION_OUTPUT
    if last == "dense" and len(parts) > 1:
        parent = parts[-2]
        if in_attention:
            return ATTENTION_OUTPUT
        if parent == "intermediate":
            return MLP_UP
        if parent == "output":
            return MLP_DOWN
    return None


def layer_role(name: str, shape: tuple[int, ...]) -> LayerRole:
    """The role and block of weight ``name`` stored with ``shape`` (4-D kernels are ``conv``)."""
    parts = module_parts(name)
    block = block_index(parts)
    if len(shape) == 4:
        return LayerRole(CONV, block)
    if len(shape) == 1:
        return LayerRole(NORM, block)
    role = _table_role(parts) or _block_role(parts) or LINEAR
    return LayerRole(role, block)
