"""Tiny Hugging Face model folders and PEFT LoRA adapters written by the tests themselves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

HIDDEN = 24
INTERMEDIATE = 48
BLOCKS = 2
VOCAB = 40
CONFIG = {"model_type": "bert", "hidden_size": HIDDEN, "num_hidden_layers": BLOCKS}


def planted(rng: np.random.Generator, rows: int, cols: int, spikes: int = 2) -> np.ndarray:
    """Gaussian noise of variance 1/cols plus ``spikes`` strong rank-one signals (float32)."""
    noise = rng.standard_normal((rows, cols)) / np.sqrt(cols)
    u, v = rng.standard_normal((rows, spikes)), rng.standard_normal((spikes, cols))
    signal = 4.0 * (u / np.linalg.norm(u, axis=0)) @ (v / np.linalg.norm(v, axis=1)[:, None])
    return (noise + signal).astype(np.float32)


def bert_like(seed: int = 0) -> dict[str, np.ndarray]:
    """A small BERT-shaped state dict: embeddings, per-block attention and MLP, a pooler."""
    rng = np.random.default_rng(seed)
    tensors = {
        "embeddings.word_embeddings.weight": planted(rng, VOCAB, HIDDEN),
        "embeddings.position_embeddings.weight": planted(rng, 16, HIDDEN),
        "embeddings.token_type_embeddings.weight": planted(rng, 2, HIDDEN),
        "embeddings.LayerNorm.weight": np.ones(HIDDEN, np.float32),
    }
    for block in range(BLOCKS):
        base = f"encoder.layer.{block}"
        for part in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense"):  # fmt: skip
            tensors[f"{base}.{part}.weight"] = planted(rng, HIDDEN, HIDDEN)
            tensors[f"{base}.{part}.bias"] = np.zeros(HIDDEN, np.float32)
        tensors[f"{base}.intermediate.dense.weight"] = planted(rng, INTERMEDIATE, HIDDEN)
        tensors[f"{base}.output.dense.weight"] = planted(rng, HIDDEN, INTERMEDIATE)
    tensors["pooler.dense.weight"] = planted(rng, HIDDEN, HIDDEN)
    return tensors


def _config(folder: Path) -> None:
    """Write ``config.json`` into a new folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(CONFIG))


def write_single(folder: Path, tensors: dict[str, np.ndarray]) -> Path:
    """``config.json`` + ``model.safetensors``."""
    _config(folder)
    save_file(tensors, str(folder / "model.safetensors"))
    return folder


def shard_names(tensors: dict[str, np.ndarray], shards: int) -> dict[str, str]:
    """Tensor name to shard file, the names split in ``shards`` consecutive runs."""
    names = list(tensors)
    size = -(-len(names) // shards)
    return {name: f"model-{i // size + 1:05d}-of-{shards:05d}" for i, name in enumerate(names)}


def write_sharded(
    folder: Path, tensors: dict[str, np.ndarray], shards: int = 3, suffix: str = ".safetensors"
) -> Path:
    """``config.json`` + shards + ``model.safetensors.index.json`` (or the ``.bin`` kind)."""
    _config(folder)
    stems = shard_names(tensors, shards)
    for stem in dict.fromkeys(stems.values()):
        part = {name: array for name, array in tensors.items() if stems[name] == stem}
        _save(folder / f"{stem}{suffix}", part)
    index = "model.safetensors.index.json" if suffix == ".safetensors" else (
        "pytorch_model.bin.index.json"
    )  # fmt: skip
    weight_map = {name: f"{stem}{suffix}" for name, stem in stems.items()}
    (folder / index).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def _save(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """One weights file: safetensors or ``torch.save`` of a state dict, by suffix."""
    if path.suffix == ".safetensors":
        save_file({name: np.ascontiguousarray(array) for name, array in tensors.items()}, str(path))
    else:
        torch.save({name: torch.from_numpy(array) for name, array in tensors.items()}, path)


def write_bin(folder: Path, tensors: dict[str, np.ndarray]) -> Path:
    """``config.json`` + ``pytorch_model.bin``."""
    _config(folder)
    _save(folder / "pytorch_model.bin", tensors)
    return folder


def lora_factors(
    rng: np.random.Generator, out: int, inp: int, values: list[float]
) -> tuple[np.ndarray, np.ndarray]:
    """``(B, A)`` with ``B · A`` of exactly the singular ``values`` (orthonormal U, V)."""
    r = len(values)
    u, _ = np.linalg.qr(rng.standard_normal((out, r)))
    v, _ = np.linalg.qr(rng.standard_normal((inp, r)))
    return (u * np.asarray(values)).astype(np.float32), np.ascontiguousarray(v.T, np.float32)


def write_adapter(
    folder: Path,
    updates: dict[str, tuple[np.ndarray, np.ndarray]],
    r: int,
    alpha: float,
    suffix: str = ".safetensors",
    **config: object,
) -> Path:
    """``adapter_config.json`` + ``adapter_model`` with ``{module: (B, A)}`` named as by PEFT."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"peft_type": "LORA", "r": r, "lora_alpha": alpha, "base_model_name_or_path": "tiny"}
    (folder / "adapter_config.json").write_text(json.dumps({**settings, **config}))
    tensors = {}
    for module, (b, a) in updates.items():
        tensors[f"base_model.model.{module}.lora_A.weight"] = a
        tensors[f"base_model.model.{module}.lora_B.weight"] = b
    _save(folder / f"adapter_model{suffix}", tensors)
    return folder
