"""Layer roles and block indices from names and shapes (BERT, GPT-2, Llama, T5, plain MLPs)."""

from __future__ import annotations

import pytest

from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.model.roles import ROLES, layer_role

BERT = {
    "embeddings.word_embeddings.weight": ("embedding", None),
    "embeddings.position_embeddings.weight": ("embedding", None),
    "embeddings.token_type_embeddings.weight": ("embedding", None),
    "encoder.layer.3.attention.self.query.weight": ("attention_query", 3),
    "encoder.layer.3.attention.self.key.weight": ("attention_key", 3),
    "encoder.layer.3.attention.self.value.weight": ("attention_value", 3),
    "encoder.layer.3.attention.output.dense.weight": ("attention_output", 3),
    "encoder.layer.3.intermediate.dense.weight": ("mlp_up", 3),
    "encoder.layer.11.output.dense.weight": ("mlp_down", 11),
    "pooler.dense.weight": ("linear", None),
    "cls.predictions.decoder.weight": ("lm_head", None),
}
OTHERS = {
    "transformer.wte.weight": ("embedding", None),
    "transformer.h.2.attn.c_attn.weight": ("attention_qkv", 2),
    "transformer.h.2.attn.c_proj.weight": ("attention_output", 2),
    "transformer.h.2.mlp.c_fc.weight": ("mlp_up", 2),
    "transformer.h.2.mlp.c_proj.weight": ("mlp_down", 2),
    "lm_head.weight": ("lm_head", None),
    "model.embed_tokens.weight": ("embedding", None),
    "model.layers.7.self_attn.q_proj.weight": ("attention_query", 7),
    "model.layers.7.self_attn.o_proj.weight": ("attention_output", 7),
    "model.layers.7.mlp.gate_proj.weight": ("mlp_up", 7),
    "model.layers.7.mlp.down_proj.weight": ("mlp_down", 7),
    "encoder.block.1.layer.0.SelfAttention.o.weight": ("attention_output", 1),
    "encoder.block.1.layer.1.DenseReluDense.wo.weight": ("mlp_down", 1),
    "net.0.weight": ("linear", None),
    "fc2.weight": ("mlp_down", None),
}


@pytest.mark.parametrize(("name", "expected"), [*BERT.items(), *OTHERS.items()])
def test_role_and_block_from_the_name(name: str, expected: tuple[str, int | None]) -> None:
    role = layer_role(name, (8, 8))
    assert (role.role, role.block) == expected
    assert role.role in ROLES


def test_tables_and_heads_are_not_prunable_by_default() -> None:
    prunable = {name: layer_role(name, (8, 8)).prunable for name in BERT}
    assert [name for name, ok in prunable.items() if not ok] == [
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "cls.predictions.decoder.weight",
    ]


def test_shape_decides_norms_and_kernels() -> None:
    assert layer_role("encoder.layer.0.output.LayerNorm.weight", (384,)).role == "norm"
    assert layer_role("features.3.weight", (16, 8, 3, 3)).role == "conv"
    info = LayerInfo("features.3.weight", (16, 72), 1152, "float32", conv_shape=(16, 8, 3, 3))
    assert info.role.role == "conv"


def test_layer_record_says_role_block_and_adapter_rank() -> None:
    plain = LayerInfo("encoder.layer.2.attention.self.query.weight", (8, 8), 64, "float32")
    assert plain.to_json() == {"role": "attention_query", "block": 2, "prunable": True}
    update = LayerInfo(
        "encoder.layer.2.attention.self.query", (8, 8), 32, "float32", adapter_rank=2
    )
    assert update.to_json() == {
        "role": "attention_query", "block": 2, "prunable": False, "adapter_rank": 2,
    }  # fmt: skip
