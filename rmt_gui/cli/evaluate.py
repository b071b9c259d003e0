"""``rmt-gui evaluate CHECKPOINT``: MNIST test accuracy, loss and time."""

from __future__ import annotations

import argparse

from rmt_gui.cli.common import (
    about,
    add_data_option,
    add_device_option,
    add_trust_option,
    print_json,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    parser = sub.add_parser("evaluate", help="MNIST test accuracy and loss of a model")
    parser.add_argument("file", help="model file")
    add_data_option(parser)
    add_trust_option(parser)
    add_device_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the model and the test split, evaluate, print."""
    from rmt_gui.model.device import resolve_device
    from rmt_gui.model.opener import open_checkpoint

    device = resolve_device(args.device)

    checkpoint = open_checkpoint(args.file, trust=args.trust)
    from rmt_gui.model.data import load_mnist
    from rmt_gui.model.evaluate import check_runnable, evaluate
    from rmt_gui.model.surgery import parameter_count

    with about(checkpoint.path):
        model = checkpoint.build_model()
        check_runnable(model)
    data = load_mnist(args.data, train=False, download=args.download)
    with about(checkpoint.path):
        result = evaluate(model, data, device=device)
    if args.json:
        print_json({"file": str(args.file), "params": parameter_count(model), **result.to_json()})
    else:
        print(
            f"{args.file}: accuracy {100 * result.accuracy:.2f}%  loss {result.loss:.4f}  "
            f"({result.count} test images, {result.seconds:.2f} s, "
            f"{parameter_count(model):,} parameters)"
        )
    return 0
