"""``rmt-gui analyze FILE``: BEMA spectra of every fully connected layer, as a table or JSON."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from rmt_gui.cli.common import (
    add_device_option,
    add_layer_option,
    add_trust_option,
    check_layers,
    print_json,
)
from rmt_gui.errors import RmtGuiError
from rmt_gui.model.analysis import LayerFailure, analyze_layers
from rmt_gui.model.device import light_device
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.spectral import DEFAULT_ALPHA, DEFAULT_BETA
from rmt_gui.spectral.bema import MIN_RELIABLE_P, check_bema_options

TABLE_COLUMNS = (
    ("layer", "{name}"),
    ("shape", "{shape[0]}x{shape[1]}"),
    ("params", "{params}"),
    ("sv_max", "{sv_max:.4g}"),
    ("signal", "{n_signal}"),
    ("sigma2", "{sigma2:.4g}"),
    ("lambda+", "{lambda_plus:.4g}"),
    ("sv_cut", "{sv_threshold:.4g}"),
    ("fit_err", "{fit_error:.3f}"),
    ("fit", "{fit}"),
    ("GD", "{rank_gavish_donoho}"),
    ("alpha", "{alpha_shown}"),
    ("ww_label", "{label}"),
)
UNFITTED_COLUMNS = 4
"""Columns a layer without a fit fills (layer to sv_max); the fit's columns show ``-``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``analyze`` subcommand."""
    parser = sub.add_parser("analyze", help="fit MP/BEMA to every fully connected layer")
    parser.add_argument("file", help="model file (.npy, .npz, a checkpoint) or model folder")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="BEMA trim (0.2)")
    parser.add_argument(
        "--beta", type=float, default=DEFAULT_BETA, help="Tracy–Widom tail probability (0.1)"
    )
    parser.add_argument(
        "--notebook-formula",
        action="store_true",
        help="use the paper notebook's (1+sqrt(gamma))**4/3 factor instead of **(4/3)",
    )
    add_layer_option(parser, "analyse only this weight (repeat; default: all)")
    add_trust_option(parser)
    add_device_option(parser)
    parser.set_defaults(run=run)


def table_cells(row: dict[str, Any]) -> list[str]:
    """One table line's cells; a layer without a fit shows ``-`` in the fit's columns."""
    if row["good_fit"] is None:
        shown = [fmt.format(**row) for _, fmt in TABLE_COLUMNS[:UNFITTED_COLUMNS]]
        return shown + ["-"] * (len(TABLE_COLUMNS) - UNFITTED_COLUMNS)
    values = {
        **row,
        "fit": fit_verdict(row),
        "alpha_shown": "-" if row["alpha"] is None else f"{row['alpha']:.3g}",
        "label": row["warning"] or "-",
    }
    return [fmt.format(**values) for _, fmt in TABLE_COLUMNS]


def fit_verdict(row: dict[str, Any]) -> str:
    """The fit column: ``POOR`` when the bulk misfits, ``heavy tail`` when the bulk fits but the
    power-law tail shows the MP curve misses the top of the spectrum, else ``good``."""
    if not row["good_fit"]:
        return "POOR"
    return "heavy tail" if row["heavy_tail"] else "good"


def format_table(rows: list[dict]) -> str:
    """Render analysis records as an aligned text table."""
    cells = [[head for head, _ in TABLE_COLUMNS], *map(table_cells, rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(TABLE_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def json_record(row: dict[str, Any]) -> dict[str, Any]:
    """A layer's record for strict JSON: non-finite numbers become ``null``, ``note`` says so."""
    undefined = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
    if not undefined:
        return row
    notes = [row.get("note", ""), f"{', '.join(undefined)} undefined (not a finite number)"]
    return {**row, **dict.fromkeys(undefined), "note": "; ".join(filter(None, notes))}


def check_options(args: argparse.Namespace) -> None:
    """Refuse BEMA options out of range before any file is read (one line, no file named)."""
    try:
        check_bema_options(args.alpha, args.beta)
    except ValueError as exc:
        raise RmtGuiError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    """Analyse every layer; layers that fail are reported and make the exit status 1."""
    check_options(args)
    device = light_device(args.device)
    checkpoint = open_checkpoint(args.file, trust=args.trust)
    if args.layer:
        check_layers(checkpoint.path, args.layer, [info.name for info in checkpoint.layers()])
    variant = "notebook" if args.notebook_formula else "paper"
    rows: list[dict] = []
    failures: list[LayerFailure] = []
    results = analyze_layers(
        checkpoint,
        args.layer,
        alpha=args.alpha,
        beta=args.beta,
        variant=variant,
        min_fit_p=MIN_RELIABLE_P,
        device=device,
    )
    for result in results:
        if isinstance(result, LayerFailure):
            failures.append(result)
        else:
            row = result.to_json()
            rows.append({**row, **checkpoint.layer(row["name"]).to_json()})
    if args.json:
        document = {"file": str(args.file), "layers": [json_record(row) for row in rows]}
        if checkpoint.architecture is not None:
            document["architecture"] = checkpoint.architecture.to_json()
        if failures:
            document["errors"] = [{"name": f.info.name, "error": f.problem} for f in failures]
        print_json(document)
    else:
        detail = f", {checkpoint.detail}" if checkpoint.detail else ""
        print(f"{checkpoint.path} ({checkpoint.format}{detail})")
        if rows:
            print(format_table(rows))
        for row in rows:
            if row.get("note"):
                print(f"note: {row['name']}: {row['note']}")
    for failure in failures:
        print(
            f"rmt-gui: error: {checkpoint.path}: layer {failure.info.name}: {failure.problem}",
            file=sys.stderr,
        )
    return 1 if failures else 0
