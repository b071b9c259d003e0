"""``rmt-gui prune CHECKPOINT --out FILE``: prune layers by a rule and export the result."""

from __future__ import annotations

import argparse

from rmt_gui.cli.common import about, add_layer_option, add_trust_option, check_layers, print_json

PAPER_KEEP_NOISE = 0.45


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
        "--min-rank", type=int, help="never keep fewer values (default: the output width)"
    )
    parser.add_argument(
        "--factorize", action="store_true",
        help="split a layer into two Linear factors when that reduces parameters",
    )  # fmt: skip
    parser.add_argument("--format", choices=("rmt-gui", "state-dict", "safetensors", "torchscript"))
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_trust_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(run=run)


def _rule(args: argparse.Namespace, min_rank: int):
    """The :class:`PruneRule` the options describe."""
    from rmt_gui.model.pruning import PruneRule

    common = {"min_rank": min_rank, "factorize": "if_smaller" if args.factorize else "never"}
    if args.bema:
        return PruneRule("bema", keep_noise=args.keep_noise, **common)
    if args.rank is not None:
        return PruneRule("rank", rank=args.rank, **common)
    if args.shrink is not None:
        return PruneRule("shrink", shrink_factor=args.shrink, **common)
    if args.energy is not None:
        return PruneRule("energy", energy=args.energy, **common)
    return PruneRule("gavish-donoho", **common)


def run(args: argparse.Namespace) -> int:
    """Plan, apply, export, and print per-layer ranks and parameter counts."""
    from rmt_gui.model.opener import open_checkpoint

    checkpoint = open_checkpoint(args.file, trust=args.trust)
    from rmt_gui.model.export import export_model
    from rmt_gui.model.module_layers import linear_modules
    from rmt_gui.model.pruning import apply_plan, output_dim, plan
    from rmt_gui.model.surgery import parameter_count

    with about(checkpoint.path):
        model = checkpoint.build_model()
        known = [info.name for info in checkpoint.layers()]
        layers = args.layer or [f"{path}.weight" for path, _ in linear_modules(model)] or known
        check_layers(checkpoint.path, layers, known)
        rule = _rule(args, args.min_rank if args.min_rank is not None else output_dim(model))
        plans = plan(model, layers, rule)
        pruned, changes = apply_plan(model, plans, rule)
    out = export_model(
        pruned, args.out, args.format, force=args.force,
        history=[*getattr(checkpoint, "history", []), rule.describe()],
        metadata={"source": str(checkpoint.path)},
    )  # fmt: skip
    before, after = parameter_count(model), parameter_count(pruned)
    by_layer = {change.layer: change for change in changes}
    rows = []
    for item in plans:
        change = by_layer.get(item.layer)
        rows.append({
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
        })  # fmt: skip
    if args.json:
        print_json({
            "file": str(args.file), "out": str(out), "rule": rule.describe(),
            "params_before": before, "params_after": after, "layers": rows,
        })  # fmt: skip
        return 0
    print(f"{checkpoint.path} -> {out}  ({rule.describe()})")
    for row in rows:
        shape = "x".join(map(str, row["shape"]))
        kind = "factorised" if row["factorized"] else "same shape"
        print(
            f"  {row['name']:<24} {shape:>10}  rank {row['rank_before']} -> {row['rank_after']}"
            f"  params {row['params_before']:,} -> {row['params_after']:,}  ({kind})"
            + (f"  skipped: {row['skipped']}" if row["skipped"] else "")
        )
    print(f"  total parameters {before:,} -> {after:,} ({100 * after / max(before, 1):.1f}%)")
    return 0
