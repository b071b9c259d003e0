"""``rmt-gui prune CHECKPOINT --out FILE``: prune layers by a rule and export the result."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from rmt_gui.cli.common import about, add_layer_option, add_trust_option, check_layers, print_json
from rmt_gui.errors import FileError
from rmt_gui.model.rule import PAPER_KEEP_NOISE, RuleError

if TYPE_CHECKING:
    from pathlib import Path

    from torch import nn

    from rmt_gui.model.pruning import LayerPlan
    from rmt_gui.model.rule import PruneRule
    from rmt_gui.model.surgery import LayerChange

SPELLING = {"shrink_factor": "--shrink"}
"""Rule fields this command spells differently from ``rmt-gui train``."""
MAX_PRUNE_LAYERS = 2_000
"""Layers one ``prune`` run may fit and cut: each takes milliseconds, 2,000 take seconds."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``prune`` subcommand."""
    parser = sub.add_parser("prune", help="prune layers by SVD and write the pruned model")
    parser.add_argument("file", help="model file")
    parser.add_argument("--out", required=True, help="output file")
    add_layer_option(parser, "weight to prune (repeat; default: every linear layer)")
    rule = parser.add_mutually_exclusive_group(required=True)
    rule.add_argument("--bema", action="store_true", help="keep BEMA signal + a noise fraction")
    rule.add_argument("--rank", type=int, metavar="K", help="keep the top K singular values")
    rule.add_argument("--shrink", type=float, metavar="X", help="multiply noise values by X")
    rule.add_argument("--gavish-donoho", action="store_true", help="Gavish–Donoho hard threshold")
    rule.add_argument("--energy", type=float, metavar="F", help="keep F of the squared energy")
    parser.add_argument(
        "--keep-noise", type=float, default=PAPER_KEEP_NOISE, metavar="F",
        help=f"with --bema: fraction of noise values kept (default {PAPER_KEEP_NOISE})",
    )  # fmt: skip
    parser.add_argument(
        "--min-rank", type=int,
        help="never keep fewer values (default: the output width, the outputs of the last "
        "linear layer; 1 for a file without linear layers)",
    )  # fmt: skip
    parser.add_argument(
        "--factorize", action="store_true",
        help="split a layer into two Linear factors when that reduces parameters "
        "(off by default here; rmt-gui train factorises unless --no-factorize)",
    )  # fmt: skip
    parser.add_argument("--format", choices=("rmt-gui", "state-dict", "safetensors", "torchscript"))
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_trust_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(run=run)


def rule_from_args(args: argparse.Namespace) -> PruneRule:
    """The :class:`PruneRule` the options describe; :class:`RuleError` spelled as here."""
    from rmt_gui.model.rule import PruneRule

    common: dict[str, Any] = {
        "min_rank": args.min_rank, "keep_noise": args.keep_noise,
        "factorize": "if_smaller" if args.factorize else "never",
    }  # fmt: skip
    try:
        if args.bema:
            return PruneRule("bema", **common)
        if args.rank is not None:
            return PruneRule("rank", rank=args.rank, **common)
        if args.shrink is not None:
            return PruneRule("shrink", shrink_factor=args.shrink, **common)
        if args.energy is not None:
            return PruneRule("energy", energy=args.energy, **common)
        return PruneRule("gavish-donoho", **common)
    except RuleError as exc:
        raise exc.spelled(SPELLING) from None


def _row(item: LayerPlan, change: LayerChange | None) -> dict[str, Any]:
    """One layer of the report (``rank_*`` are ``None`` for a layer left alone)."""
    return {
        "name": item.layer,
        "shape": list(item.shape),
        "n_signal": item.n_signal,
        "good_fit": item.good_fit,
        "rank_before": change.rank_before if change else None,
        "rank_after": change.rank_after if change else None,
        "factorized": bool(change and change.factorized),
        "params_before": item.params_before,
        "params_after": change.params_after if change else item.params_before,
        "skipped": item.skipped,
    }


def _line(row: dict[str, Any]) -> str:
    """One layer of the text report."""
    head = f"  {row['name']:<24} {'x'.join(map(str, row['shape'])):>10}"
    if row["skipped"]:
        return f"{head}  skipped: {row['skipped']}  params {row['params_before']:,}"
    kind = "factorised" if row["factorized"] else "same shape"
    return (
        f"{head}  rank {row['rank_before']} -> {row['rank_after']}"
        f"  params {row['params_before']:,} -> {row['params_after']:,}  ({kind})"
    )


def _export(pruned: nn.Module, args: argparse.Namespace, history: list[str], source: Path) -> Path:
    """Write ``--out`` (in a format that keeps the model runnable unless one is chosen).

    A chosen format that drops the model's code (a CNN saved as weights) is written, with a
    warning line on stderr.
    """
    from rmt_gui.model.export import default_format, export_model, weights_only_warning

    fmt = args.format or default_format(pruned, args.out)
    with about(args.out):
        out = export_model(
            pruned, args.out, fmt, force=args.force, history=history,
            metadata={"source": str(source)},
        )  # fmt: skip
    warning = weights_only_warning(pruned, out, fmt)
    if warning is not None:
        print(
            f"rmt-gui: warning: {warning}; use --format torchscript to keep it runnable",
            file=sys.stderr,
        )
    return out


def check_layer_count(path: Path, count: int) -> None:
    """Refuse more than :data:`MAX_PRUNE_LAYERS` layers before any work (each costs a fit)."""
    if count > MAX_PRUNE_LAYERS:
        raise FileError(
            path, f"cannot prune {count} layers in one run (at most {MAX_PRUNE_LAYERS}); "
            "choose some with --layer"
        )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Plan, apply, export, and print per-layer ranks and parameter counts."""
    rule = rule_from_args(args)
    from rmt_gui.model.opener import open_checkpoint

    checkpoint = open_checkpoint(args.file, trust=args.trust)
    check_layer_count(checkpoint.path, len(args.layer or checkpoint.layers()))
    from rmt_gui.model.module_layers import linear_modules
    from rmt_gui.model.pruning import apply_plan, plan
    from rmt_gui.model.surgery import parameter_count

    with about(checkpoint.path):
        model = checkpoint.build_model()
        known = [info.name for info in checkpoint.layers()]
        layers = args.layer or [f"{path}.weight" for path, _ in linear_modules(model)] or known
        check_layers(checkpoint.path, layers, known)
        plans = plan(model, layers, rule)
        pruned, changes = apply_plan(model, plans, rule)
    history = [*getattr(checkpoint, "history", []), rule.describe()]
    out = _export(pruned, args, history, checkpoint.path)
    for item in plans:
        if item.skipped:
            print(
                f"rmt-gui: note: {checkpoint.path}: {item.layer}: {item.skipped}", file=sys.stderr
            )
    before, after = parameter_count(model), parameter_count(pruned)
    by_layer = {change.layer: change for change in changes}
    rows = [_row(item, by_layer.get(item.layer)) for item in plans]
    if args.json:
        print_json({
            "file": str(args.file), "out": str(out), "rule": rule.describe(),
            "params_before": before, "params_after": after, "layers": rows,
        })  # fmt: skip
        return 0
    print(f"{checkpoint.path} -> {out}  ({rule.describe()})")
    for row in rows:
        print(_line(row))
    print(f"  total parameters {before:,} -> {after:,} ({100 * after / max(before, 1):.1f}%)")
    return 0
