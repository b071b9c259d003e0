"""``rmt-gui analyze`` output is always valid: strict JSON, one line per refused layer, no warnings.

In-process runs turn any numpy ``RuntimeWarning`` into a failure (pytest's ``filterwarnings``);
a few subprocess runs check what a user's terminal shows.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rmt_gui.cli import main
from rmt_gui.cli.analyze import json_record
from rmt_gui.cli.common import print_json
from rmt_gui.model.analysis import UNFITTED_FIELDS, LayerFailure, analyze_layer
from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.spectral import analyze_matrix
from rmt_gui.spectral.bema import MIN_RELIABLE_P
from tests.helpers.awkward_matrices import ANALYSABLE, REFUSED, noise


def strict_json(text: str) -> Any:
    """Parse ``text`` refusing the non-standard ``NaN``, ``Infinity`` and ``-Infinity``."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def analyze(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, list[str]]:
    """``(status, stdout, stderr lines)`` of ``rmt-gui analyze ARGS`` run in this process."""
    status = main(["analyze", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err.splitlines()


def assert_finite_layer(layer: dict[str, Any]) -> None:
    """Every number of a layer record is finite; degenerate fits carry a note.

    A layer with fewer than 10 eigenvalues is listed unfitted: its fit's fields are ``null``.
    """
    if min(layer["shape"]) < MIN_RELIABLE_P:
        assert math.isfinite(layer["sv_max"]) and layer["note"].startswith("too small to fit")
        assert all(layer[key] is None for key in UNFITTED_FIELDS)
        return
    for key in ("sv_max", "sigma2", "lambda_plus", "sv_threshold", "fit_error"):
        assert isinstance(layer[key], float) and math.isfinite(layer[key]), key
    if layer["sigma2"] == 0.0 or layer["shape"][0] < 10 or layer["shape"][1] < 10:
        assert layer["note"] and not layer["good_fit"]


@pytest.mark.parametrize("name", list(ANALYSABLE))
def test_awkward_npy_gives_finite_json_and_a_silent_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    path = tmp_path / f"{name}.npy"
    np.save(path, ANALYSABLE[name]())
    status, out, err = analyze(capsys, str(path), "--json")
    assert (status, err) == (0, [])
    (layer,) = strict_json(out)["layers"]
    assert_finite_layer(layer)


@pytest.mark.parametrize("name", list(REFUSED))
def test_hostile_npy_is_one_error_line_and_json_lists_it(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    make, phrase = REFUSED[name]
    path = tmp_path / f"{name}.npy"
    np.save(path, make())
    status, out, err = analyze(capsys, str(path), "--json")
    doc = strict_json(out)
    assert status == 1 and doc["layers"] == []
    assert [entry["name"] for entry in doc["errors"]] == [name]
    assert phrase in doc["errors"][0]["error"]
    assert err == [f"rmt-gui: error: {path}: layer {name}: {doc['errors'][0]['error']}"]
    assert len(err[0]) < 300


def test_npz_of_everything_analyses_the_good_and_lists_the_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "zoo.npz"
    good = {name: make() for name, make in ANALYSABLE.items()}
    bad = {name: make() for name, (make, _) in REFUSED.items()}
    np.savez(path, **good, **bad)
    status, out, err = analyze(capsys, str(path), "--json")
    doc = strict_json(out)
    assert status == 1
    assert [layer["name"] for layer in doc["layers"]] == list(good)
    for layer in doc["layers"]:
        assert_finite_layer(layer)
    assert [entry["name"] for entry in doc["errors"]] == list(bad)
    assert len(err) == len(bad) and all(line.startswith("rmt-gui: error: ") for line in err)


def test_table_shows_notes_for_degenerate_layers(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "odd.npz"
    np.savez(path, zeros=np.zeros((12, 20)), row=noise((1, 30)), fine=noise((40, 60)))
    status, out, err = analyze(capsys, str(path))
    assert (status, err) == (0, [])
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: zeros: zero matrix: the layer is all zeros, there is no spectrum to fit",
        "note: row: too small to fit: p = 1 eigenvalue",
    ]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--alpha", "0.7"], "alpha must be in [0, 0.5), got 0.7"),
        (["--alpha", "nan"], "alpha must be in [0, 0.5), got nan"),
        (["--alpha=-inf"], "alpha must be in [0, 0.5), got -inf"),
        (["--beta", "1"], "beta must be in (0, 1), got 1.0"),
        (["--beta", "0"], "beta must be in (0, 1), got 0.0"),
        (["--beta", "nan"], "beta must be in (0, 1), got nan"),
        (["--beta", "1e-15"], "beta must be at least 1e-12"),
    ],
)
def test_bad_options_are_one_line_before_any_file_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture, option: list[str], message: str
) -> None:
    status, out, err = analyze(capsys, str(tmp_path / "never-opened.npz"), "--json", *option)
    assert (status, out, len(err)) == (1, "", 1)
    assert err[0].startswith(f"rmt-gui: error: {message}")


def test_a_cutoff_that_cannot_be_formed_fails_only_that_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "mixed.npz"
    np.savez(path, small=noise((10, 10)), large=noise((60, 80)))
    status, out, err = analyze(capsys, str(path), "--json", "--beta", "0.999999999999")
    doc = strict_json(out)
    assert status == 1 and [layer["name"] for layer in doc["layers"]] == ["large"]
    assert doc["errors"][0]["name"] == "small" and "use a smaller beta" in err[0]
    assert len(err) == 1


def test_a_refused_layer_becomes_a_layer_failure() -> None:
    info = LayerInfo(name="w", shape=(30, 40), params=1200, dtype="float64")
    failure = analyze_layer(info, noise((30, 40)) * 1e-170)
    assert isinstance(failure, LayerFailure) and "too small for float64" in failure.problem
    ok = analyze_layer(info, noise((30, 40)))
    assert not isinstance(ok, LayerFailure) and ok.fit.p == 30


def test_non_finite_numbers_become_null_with_a_note() -> None:
    row = {**analyze_matrix("w", np.zeros((3, 4))).to_json(), "fit_error": math.nan}
    row["sv_threshold"] = math.inf
    record = json_record(row)
    assert record["fit_error"] is None and record["sv_threshold"] is None
    assert record["note"].endswith("sv_threshold, fit_error undefined (not a finite number)")
    assert record["note"].startswith("only 3 singular values")
    clean = analyze_matrix("w", noise()).to_json()
    assert json_record(clean) == clean and "note" not in clean


def test_print_json_is_strict_at_any_depth(capsys: pytest.CaptureFixture) -> None:
    print_json({"a": [1.0, math.nan, {"b": -math.inf}], "c": np.float32(2.5), "d": np.int64(3)})
    assert strict_json(capsys.readouterr().out) == {"a": [1.0, None, {"b": None}], "c": 2.5, "d": 3}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m rmt_gui analyze ARGS`` with the interpreter's default warning filters."""
    return subprocess.run(
        [sys.executable, "-m", "rmt_gui", "analyze", *args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("json_flag", [["--json"], []])
def test_terminal_sees_one_line_per_refused_layer_and_no_warnings(
    tmp_path: Path, json_flag: list[str]
) -> None:
    zoo = tmp_path / "zoo.npz"
    np.savez(zoo, **{name: make() for name, make in ANALYSABLE.items()}, tiny=noise() * 1e-170)
    huge = tmp_path / "huge.npy"
    np.save(huge, noise() * 1e155)
    for path, layer, phrase in ((zoo, "tiny", "too small"), (huge, "huge", "too large")):
        result = run_cli(str(path), *json_flag)
        assert result.returncode == 1
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"rmt-gui: error: {path}: layer {layer}: values {phrase}")
        if json_flag:
            strict_json(result.stdout)
