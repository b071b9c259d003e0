"""Peak memory of ``rmt-gui analyze`` on a generated sharded Hugging Face folder (about 1 GB).

The folder (in a temporary directory under /tmp, removed afterwards) holds ``SHARDS`` safetensors
shards of ``LAYERS_PER_SHARD`` float32 layers ``ROWS x COLS`` and an index. Three runs of
``rmt-gui analyze --json`` in fresh processes, each peak RSS read from ``getrusage``:

- ``baseline``: a folder of one tiny layer (interpreter, imports);
- ``one layer``: a folder of one largest layer; minus the baseline, the layer's working set;
- ``sharded``: the whole folder.

The bound is baseline + largest shard + one layer's working set; the ratio peak / bound <= 1
says the folder is streamed shard by shard. Run: ``python benchmarks/bench_folder.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

SHARDS = 4
LAYERS_PER_SHARD = 64
ROWS, COLS = 65536, 16  # 4 MiB float32 per layer, 1 GiB in all; p = 16 keeps each fit cheap
REPO = Path(__file__).resolve().parents[1]
MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
"""A fresh wrapper per run, so ``ru_maxrss`` of its only child is that run's peak (KiB)."""


def write_folder(folder: Path, shards: int, layers: int, rows: int, cols: int) -> int:
    """Write a sharded folder of random layers; return the largest shard's size in bytes."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bench", "hidden_size": cols}))
    rng = np.random.default_rng(0)
    weight_map = {}
    for shard in range(shards):
        name = f"model-{shard + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {
            f"layers.{shard * layers + i}.dense.weight": rng.standard_normal(
                (rows, cols), dtype=np.float32
            )
            for i in range(layers)
        }
        save_file(tensors, str(folder / name))
        weight_map.update(dict.fromkeys(tensors, name))
    index = {"metadata": {}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return max(path.stat().st_size for path in folder.glob("*.safetensors"))


def peak_rss(folder: Path) -> tuple[int, float]:
    """Peak RSS in bytes and wall seconds of ``rmt-gui analyze --json FOLDER`` in a new process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "rmt_gui", "analyze", str(folder), "--json"]
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], env=env, check=True, capture_output=True
    )
    return int(out.stdout) * 1024, time.perf_counter() - start


def main() -> None:
    """Generate the folders, measure the three runs and print the peaks against the bound."""
    mib = 1024 * 1024
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        root = Path(tmp)
        write_folder(root / "tiny", 1, 1, 16, 16)
        write_folder(root / "layer", 1, 1, ROWS, COLS)
        shard = write_folder(root / "big", SHARDS, LAYERS_PER_SHARD, ROWS, COLS)
        total = sum(path.stat().st_size for path in (root / "big").glob("*.safetensors"))
        baseline, _ = peak_rss(root / "tiny")
        one_layer, _ = peak_rss(root / "layer")
        peak, seconds = peak_rss(root / "big")
    working_set = one_layer - baseline
    bound = baseline + shard + working_set
    print(f"folder                {total / mib:10.1f} MiB in {SHARDS} shards, {seconds:.1f} s")
    print(f"baseline peak RSS     {baseline / mib:10.1f} MiB (one tiny layer)")
    print(f"largest shard         {shard / mib:10.1f} MiB")
    print(f"layer working set     {working_set / mib:10.1f} MiB ({ROWS}x{COLS} float32)")
    print(f"bound                 {bound / mib:10.1f} MiB (baseline + shard + working set)")
    print(f"sharded peak RSS      {peak / mib:10.1f} MiB")
    print(f"peak / bound          {peak / bound:10.2f}")
    print(f"above baseline        {(peak - baseline) / mib:10.1f} MiB of {total / mib:.1f} MiB")


if __name__ == "__main__":
    main()
