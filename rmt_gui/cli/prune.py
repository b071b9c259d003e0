"""``rmt-gui prune CHECKPOINT --out FILE``: prune layers by a rule and export the result."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from rmt_gui.cli.common import (
    about,
    add_device_option,
    add_layer_option,
    add_trust_option,
    check_layers,
    print_json,
)
from rmt_gui.errors import FileError
from rmt_gui.model.rule import PAPER_KEEP_NOISE, RuleError

if TYPE_CHECKING:
    from pathlib import Path

    import torch
    from torch import nn

    from rmt_gui.model.checkpoint import Checkpoint
    from rmt_gui.model.export_report import ExportReport
    from rmt_gui.model.pruning import LayerPlan
    from rmt_gui.model.rule import PruneRule
    from rmt_gui.model.surgery import LayerChange

SPELLING = {"shrink_factor": "--shrink"}
"""Rule fields this command spells differently from ``rmt-gui train``."""
MAX_PRUNE_LAYERS = 2_000
"""Layers one ``prune`` run may fit and cut: each takes milliseconds, 2,000 take seconds."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``prune`` subcommand."""
    from rmt_gui.model.export_formats import FORMATS

    parser = sub.add_parser("prune", help="prune layers by SVD and write the pruned model")
    parser.add_argument("file", help="model file or Hugging Face model folder")
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
    parser.add_argument("--format", choices=FORMATS)
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_trust_option(parser)
    add_device_option(parser)
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


def out_format(model: nn.Module, args: argparse.Namespace) -> str:
    """``--format``, else the format that keeps ``model`` runnable at ``--out``."""
    from rmt_gui.model.export import default_format

    return args.format or default_format(model, args.out)


def export_result(
    pruned: nn.Module,
    args: argparse.Namespace,
    history: list[str],
    source: Path,
    sample: torch.Tensor | None = None,
) -> Path:
    """Write ``--out`` (in a format that keeps the model runnable unless one is chosen).

    A chosen format that drops the model's code (a CNN saved as weights) is written, with a
    warning line on stderr. ``sample`` images are the batch an ONNX file is checked on.
    """
    from rmt_gui.model.export import export_model, weights_only_warning

    fmt = out_format(pruned, args)
    with about(args.out):
        out = export_model(
            pruned, args.out, fmt, force=args.force, history=history,
            metadata={"source": str(source)}, sample=sample,
        )  # fmt: skip
    warning = weights_only_warning(pruned, out, fmt)
    if warning is not None:
        print(
            f"rmt-gui: warning: {warning}; use --format torchscript to keep it runnable",
            file=sys.stderr,
        )
    return out


def export_report(
    original: nn.Module,
    exported: nn.Module,
    source: Path,
    out: Path,
    args: argparse.Namespace,
    sample: torch.Tensor | None = None,
) -> ExportReport:
    """Size on disk and CPU latency of ``out`` against ``source`` (:mod:`export_report`)."""
    from rmt_gui.model.export_report import measure_export

    with about(out):
        return measure_export(original, source, exported, out, out_format(exported, args), sample)


def check_layer_count(path: Path, count: int) -> None:
    """Refuse more than :data:`MAX_PRUNE_LAYERS` layers before any work (each costs a fit)."""
    if count > MAX_PRUNE_LAYERS:
        raise FileError(
            path, f"cannot prune {count} layers in one run (at most {MAX_PRUNE_LAYERS}); "
            "choose some with --layer"
        )  # fmt: skip


def default_layers(
    checkpoint: Checkpoint, candidates: list[tuple[str, tuple[int, ...]]]
) -> tuple[list[str], list[dict[str, str]]]:
    """The weights ``prune`` cuts when no ``--layer`` is given, and those left alone for their
    role (embeddings, ``lm_head``, norms, adapter updates), as ``{"name", "role"}``."""
    from rmt_gui.model.roles import layer_role

    known = {info.name for info in checkpoint.layers()}
    kept, left = [], []
    for name, shape in candidates:
        if name in known:
            info = checkpoint.layer(name)
            role, prunable = info.role.role, info.prunable
        else:
            role_of = layer_role(name, shape)
            role, prunable = role_of.role, role_of.prunable
        if prunable:
            kept.append(name)
        else:
            left.append({"name": name, "role": role})
    return kept, left


def run(args: argparse.Namespace) -> int:
    """Plan, apply, export, and print per-layer ranks and parameter counts."""
    rule = rule_from_args(args)
    from rmt_gui.model.device import resolve_device
    from rmt_gui.model.opener import open_checkpoint

    device = resolve_device(args.device)

    checkpoint = open_checkpoint(args.file, trust=args.trust)
    check_layer_count(checkpoint.path, len(args.layer or checkpoint.layers()))
    from rmt_gui.model.module_layers import linear_modules
    from rmt_gui.model.pruning import apply_plan, factorize_blocker, plan
    from rmt_gui.model.surgery import parameter_count

    with about(checkpoint.path):
        model = checkpoint.build_model()
        blocked = factorize_blocker(model) if args.factorize else ""
        if blocked:
            raise FileError(checkpoint.path, f"{blocked}; prune without --factorize")
        known = [info.name for info in checkpoint.layers()]
        candidates = [
            (f"{path}.weight", tuple(module.weight.shape)) for path, module in linear_modules(model)
        ] or [(info.name, info.conv_shape or info.shape) for info in checkpoint.layers()]
        layers, left_alone = (
            (args.layer, []) if args.layer else default_layers(checkpoint, candidates)
        )
        check_layers(checkpoint.path, layers, known)
        plans = plan(model, layers, rule, device=device)
        pruned, changes = apply_plan(model, plans, rule)
    history = [*getattr(checkpoint, "history", []), rule.describe()]
    out = export_result(pruned, args, history, checkpoint.path)
    report = export_report(model, pruned, checkpoint.path, out, args)
    if left_alone:
        shown = ", ".join(f"{item['name']} ({item['role']})" for item in left_alone[:6])
        more = f" and {len(left_alone) - 6} more" if len(left_alone) > 6 else ""
        print(
            f"rmt-gui: note: {checkpoint.path}: left alone by role (name them with --layer to "
            f"prune them): {shown}{more}",
            file=sys.stderr,
        )
    for item in plans:
        if item.skipped:
            print(
                f"rmt-gui: note: {checkpoint.path}: {item.layer}: {item.skipped}", file=sys.stderr
            )
    before, after = parameter_count(model), parameter_count(pruned)
    by_layer = {change.layer: change for change in changes}
    rows = [_row(item, by_layer.get(item.layer)) for item in plans]
    if args.json:
        document = {
            "file": str(args.file), "out": str(out), "rule": rule.describe(),
            "params_before": before, "params_after": after, "layers": rows,
            "export": report.as_dict(),
        }  # fmt: skip
        print_json({**document, "left_alone": left_alone} if left_alone else document)
        return 0
    print(f"{checkpoint.path} -> {out}  ({rule.describe()})")
    for row in rows:
        print(_line(row))
    print(f"  total parameters {before:,} -> {after:,} ({100 * after / max(before, 1):.1f}%)")
    print(f"  export: {report.summary()}")
    return 0
