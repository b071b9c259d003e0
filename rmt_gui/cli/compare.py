"""``rmt-gui compare A B``: how each layer's spectral metrics changed from A to B, largest first."""

from __future__ import annotations

import argparse

from rmt_gui.cli.common import add_layer_option, add_trust_option, check_layers, print_json
from rmt_gui.errors import RmtGuiError
from rmt_gui.model.compare import LayerComparison, compare_checkpoints, metric_names
from rmt_gui.model.opener import open_checkpoint

FIXED_COLUMNS = ("layer", "shape", "role", "block", "change")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    parser = sub.add_parser(
        "compare", help="per-layer change of every spectral metric between two checkpoints"
    )
    parser.add_argument("a", help="first model file or folder (e.g. the base model)")
    parser.add_argument("b", help="second one, of the same architecture (e.g. fine-tuned)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--sort", metavar="METRIC",
        help="rank layers by |B - A| of this metric (default: the largest relative change of any)",
    )  # fmt: skip
    add_layer_option(parser, "compare only this weight (repeat; default: all)")
    add_trust_option(parser)
    parser.set_defaults(run=run)


def _number(value: float | None) -> str:
    """A change for the table: signed, four significant digits, ``-`` when undefined."""
    return "-" if value is None else f"{value:+.4g}"


def _cells(layer: LayerComparison, metrics: list[str]) -> list[str]:
    """One table line: the layer, its role and block, its largest change and each ``B - A``."""
    block = "-" if layer.role.block is None else str(layer.role.block)
    head = [layer.info.name, "x".join(map(str, layer.info.shape)), layer.role.role, block]
    deltas = [_number(layer.metrics[m].delta if m in layer.metrics else None) for m in metrics]
    return [*head, f"{layer.change:.3f}", *deltas]


def format_table(layers: list[LayerComparison], metrics: list[str]) -> str:
    """Aligned text table of the changes, one line per layer in ranked order."""
    lines = [[*FIXED_COLUMNS, *(f"d_{m}" for m in metrics)]]
    lines += [_cells(layer, metrics) for layer in layers]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def run(args: argparse.Namespace) -> int:
    """Open both, check they share an architecture, analyse and print the ranked changes."""
    a = open_checkpoint(args.a, trust=args.trust)
    b = open_checkpoint(args.b, trust=args.trust)
    if args.layer:
        check_layers(a.path, args.layer, [info.name for info in a.layers()])
    layers = compare_checkpoints(a, b, args.layer, sort_by=args.sort)
    metrics = metric_names(layers)
    if args.sort is not None and args.sort not in metrics:
        raise RmtGuiError(f"--sort: no metric {args.sort!r} (metrics: {', '.join(metrics)})")
    if args.json:
        print_json({
            "a": str(args.a), "b": str(args.b), "metrics": metrics,
            "layers": [layer.to_json() for layer in layers],
        })  # fmt: skip
        return 0
    for label, checkpoint in (("A", a), ("B", b)):
        detail = f", {checkpoint.detail}" if checkpoint.detail else ""
        print(f"{label}: {checkpoint.path} ({checkpoint.format}{detail})")
    print(format_table(layers, metrics))
    for layer in layers:
        for problem in layer.problems:
            print(f"note: {layer.info.name}: {problem}")
    return 0
