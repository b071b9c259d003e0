"""``rmt-gui compress MODEL --out FILE``: the most accurate model within a parameter budget.

Calibration, validation and fine-tune images come from the MNIST training split (the last
``--validation`` images are held out for selection); the test split is used once, at the end,
on the written file reopened as ``rmt-gui evaluate`` reads it. A model trained on all 60,000
training images has seen the validation images: its validation accuracy is then inflated and
``--max-drop`` may under-estimate the drop on unseen images (the report says so).
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING, Any

from rmt_gui.cli.common import (
    about,
    add_data_option,
    add_device_option,
    add_layer_option,
    add_trust_option,
    check_layers,
    print_json,
)
from rmt_gui.cli.prune import export_report, export_result
from rmt_gui.errors import RmtGuiError
from rmt_gui.model.export_formats import FORMATS

if TYPE_CHECKING:
    from rmt_gui.jobs.compress_job import CompressResult, LayerRank, Target
    from rmt_gui.model.evaluate import EvalResult


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compress`` subcommand."""
    parser = sub.add_parser(
        "compress", help="compress linear layers to a parameter budget (whitened SVD, fine-tune)"
    )
    parser.add_argument("file", help="model file")
    parser.add_argument("--out", required=True, help="output file")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--target-params", metavar="F|bema",
        help="keep at most F (0 < F <= 1) of the parameters, or BEMA's data-free ranks",
    )  # fmt: skip
    target.add_argument(
        "--max-drop", metavar="P",
        help="the smallest model within P accuracy points of the original on the validation "
        "images (the last --validation MNIST training images: a model trained on them has "
        "seen them, so its accuracy there is inflated and the real drop may be larger)",
    )  # fmt: skip
    add_data_option(parser)
    parser.add_argument("--calibration", default="2048", metavar="N", help="images (2048)")
    parser.add_argument(
        "--validation", default="5000", metavar="N",
        help="the last N training images, held out for selection (5000)",
    )  # fmt: skip
    parser.add_argument("--finetune-steps", default="500", metavar="S", help="0: none (500)")
    parser.add_argument("--method", choices=("whitened", "svd"), default="whitened")
    parser.add_argument("--seed", default="0", metavar="S", help="fine-tune batch order (0)")
    add_layer_option(parser, "weight to compress (repeat; default: every dense linear layer)")
    parser.add_argument("--format", choices=FORMATS)
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_trust_option(parser)
    add_device_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(run=run)


def _number(text: str, option: str, whole: bool, least: float) -> float:
    """``text`` as a finite number (whole if asked) of at least ``least``; else one line."""
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise RmtGuiError(f"{option} must be {kind}, got {text!r}") from None
    if not math.isfinite(value):
        raise RmtGuiError(f"{option} must be a finite number, got {text}")
    if value < least:
        raise RmtGuiError(f"{option} must be at least {least:g}, got {text}")
    return value


def target_from_args(args: argparse.Namespace) -> Target:
    """The :class:`Target` of ``--target-params`` or ``--max-drop`` (one-line errors)."""
    from rmt_gui.jobs.compress_job import Target

    if args.max_drop is not None:
        return Target(max_drop=_number(args.max_drop, "--max-drop", False, 0))
    if args.target_params.strip().lower() == "bema":
        return Target(bema=True)
    try:
        fraction = float(args.target_params)
    except ValueError:
        raise RmtGuiError(
            f"--target-params must be a fraction in (0, 1] or bema, got {args.target_params!r}"
        ) from None
    return Target(fraction=fraction)


def _row(row: LayerRank) -> dict[str, Any]:
    """One JSON row per layer: rank (``null``: left dense) beside BEMA's n_signal."""
    return {
        "name": row.layer, "shape": list(row.shape), "rank": row.rank, "n_signal": row.n_signal,
        "factorized": row.factorized, "params_before": row.params_before,
        "params_after": row.params_after,
    }  # fmt: skip


def _print_text(
    args: argparse.Namespace, out: str, result: CompressResult, test: tuple[EvalResult, ...]
) -> None:
    """The human-readable report."""
    print(
        f"{args.file} -> {out}  ({result.method}, {result.target}, "
        f"fine-tune {result.finetune_steps} steps)"
    )
    for row in result.layers:
        rank = f"rank {row.rank}" if row.rank is not None else "left dense"
        print(
            f"  {row.layer:<24} {'x'.join(map(str, row.shape)):>10}  {rank:<11}"
            f"  (BEMA n_signal {row.n_signal})  params {row.params_before:,} -> "
            f"{row.params_after:,}"
        )
    share = 100 * result.params_after / max(result.params_before, 1)
    print(f"  total parameters {result.params_before:,} -> {result.params_after:,} ({share:.1f}%)")
    print(
        f"  validation accuracy {100 * result.val_accuracy_before:.2f}% -> "
        f"{100 * result.val_accuracy_after:.2f}%  (the last {result.validation_count} training "
        "images: inflated if the model was trained on them)"
    )
    print(
        f"  test accuracy {100 * test[0].accuracy:.2f}% -> {100 * test[1].accuracy:.2f}%  "
        f"({test[1].count} test images, as rmt-gui evaluate gives it)"
    )


def _validation(result: CompressResult) -> dict[str, Any]:
    """The JSON ``validation`` block: which images, whether training saw them, the accuracies."""
    return {
        "count": result.validation_count,
        "images": f"the last {result.validation_count} of the MNIST training split",
        "seen_in_training": "unknown", "accuracy_before": result.val_accuracy_before,
        "accuracy_after": result.val_accuracy_after,
    }  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Compress, export, re-evaluate the written file on the test split, and report."""
    target = target_from_args(args)
    calibration = int(_number(args.calibration, "--calibration", True, 1))
    validation = int(_number(args.validation, "--validation", True, 1))
    steps = int(_number(args.finetune_steps, "--finetune-steps", True, 0))
    seed = int(_number(args.seed, "--seed", True, 0))
    from rmt_gui.model.device import resolve_device
    from rmt_gui.model.opener import open_checkpoint

    device = resolve_device(args.device)  # the test evaluations; compressing stays on the CPU

    checkpoint = open_checkpoint(args.file, trust=args.trust)
    from rmt_gui.jobs.compress_job import CompressData, Compressor, CompressResult
    from rmt_gui.model.allocation import tensor_count
    from rmt_gui.model.data import load_mnist
    from rmt_gui.model.evaluate import check_runnable, evaluate
    from rmt_gui.model.onnx_export import SAMPLE_SIZE

    with about(checkpoint.path):
        model = checkpoint.build_model()
        check_runnable(model)
        if args.layer:
            check_layers(checkpoint.path, args.layer, [info.name for info in checkpoint.layers()])
    train = load_mnist(args.data, train=True, download=args.download)
    test = load_mnist(args.data, train=False)
    data = CompressData.from_training(train, validation, calibration)
    with about(checkpoint.path):
        compressor = Compressor(model, data, args.layer, seed=seed)
        events = list(compressor.compress(target, args.method, steps))
    result = next(event for event in events if isinstance(event, CompressResult))
    history = [
        *getattr(checkpoint, "history", []),
        f"compress: {result.method} SVD, {result.target}, fine-tune {result.finetune_steps} steps",
    ]
    sample = test.images[:SAMPLE_SIZE]
    out = export_result(compressor.compressed, args, history, checkpoint.path, sample)
    written = open_checkpoint(out).build_model()  # the file as `rmt-gui evaluate` reads it
    report = export_report(model, written, checkpoint.path, out, args, sample)
    result_test = (evaluate(model, test, device=device), evaluate(written, test, device=device))
    if args.json:
        print_json({
            "file": str(args.file), "out": str(out), "method": result.method,
            "target": result.target, "finetune_steps": result.finetune_steps,
            "calibration": calibration, "params_before": result.params_before,
            "params_after": tensor_count(written),
            "layers": [_row(row) for row in result.layers], "validation": _validation(result),
            "test": {
                "count": result_test[1].count, "accuracy_before": result_test[0].accuracy,
                "accuracy_after": result_test[1].accuracy,
            },
            "export": report.as_dict(),
        })  # fmt: skip
        return 0
    _print_text(args, str(out), result, result_test)
    print(f"  export: {report.summary()}")
    return 0
