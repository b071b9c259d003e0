"""``rmt-gui analyze`` on .npy/.npz files: table, JSON schema, and bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rmt_gui.cli import main
from tests.helpers.analyze_keys import LAYER_KEYS
from tests.helpers.paths import CASES_DIR


@pytest.fixture(scope="module")
def cases_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    meta = json.loads((CASES_DIR / "cases.json").read_text())["cases"]
    path = tmp_path_factory.mktemp("cases") / "cases.npz"
    np.savez(path, **{case["id"]: np.load(CASES_DIR / case["file"]) for case in meta})
    return path


def run_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["analyze", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_matches_reference_cases(cases_npz: Path, capsys: pytest.CaptureFixture) -> None:
    doc = run_json(capsys, str(cases_npz))
    meta = {c["id"]: c for c in json.loads((CASES_DIR / "cases.json").read_text())["cases"]}
    assert doc["file"] == str(cases_npz)
    assert [layer["name"] for layer in doc["layers"]] == list(meta)
    for layer in doc["layers"]:
        assert set(layer) == LAYER_KEYS
        ref = meta[layer["name"]]
        assert layer["shape"] == ref["shape"]
        assert layer["params"] == ref["shape"][0] * ref["shape"][1]
        assert layer["n_signal"] == ref["paper"]["n_signal"]
        assert layer["sigma2"] == pytest.approx(ref["paper"]["sigma2"], rel=1e-4)
        assert layer["lambda_plus"] == pytest.approx(ref["paper"]["lambda_plus"], rel=1e-4)
        assert layer["sv_threshold"] == pytest.approx(ref["paper"]["sv_threshold"], rel=1e-4)
        assert layer["rank_gavish_donoho"] == ref["rank_gavish_donoho"]
        assert layer["good_fit"] is True
        assert layer["sv_max"] > layer["sv_threshold"] or layer["n_signal"] == 0


def test_notebook_formula_option(cases_npz: Path, capsys: pytest.CaptureFixture) -> None:
    doc = run_json(capsys, str(cases_npz), "--notebook-formula")
    meta = {c["id"]: c for c in json.loads((CASES_DIR / "cases.json").read_text())["cases"]}
    for layer in doc["layers"]:
        ref = meta[layer["name"]]["notebook_formula"]
        assert layer["lambda_plus"] == pytest.approx(ref["lambda_plus"], rel=1e-4)


def test_alpha_beta_options_change_the_fit(cases_npz: Path, capsys: pytest.CaptureFixture) -> None:
    base = run_json(capsys, str(cases_npz))["layers"][3]
    other = run_json(capsys, str(cases_npz), "--alpha", "0.25", "--beta", "0.01")["layers"][3]
    assert other["sigma2"] != base["sigma2"]
    assert other["lambda_plus"] > base["lambda_plus"] * 1.01


def test_table_output(cases_npz: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["analyze", str(cases_npz)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "npz" in lines[0]
    assert lines[1].split()[:3] == ["layer", "shape", "params"]
    assert lines[2].split()[:3] == ["p01", "100x100", "10000"]
    assert len(lines) == 2 + 8


def test_single_npy(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "fc1.npy"
    np.save(path, np.load(CASES_DIR / "p02.npy"))
    doc = run_json(capsys, str(path))
    assert [layer["name"] for layer in doc["layers"]] == ["fc1"]
    assert doc["layers"][0]["n_signal"] == 3


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_INPUTS = {
    "missing": (lambda d: d / "nope.npz", "no such file"),
    "empty": (lambda d: write_bytes(d / "empty.npy", b""), "is empty"),
    "text": (lambda d: write_bytes(d / "notes.npz", b"hello world\n"), "not a recognised"),
    "one_d": (lambda d: np.save(d / "v.npy", np.ones(5)) or d / "v.npy", "2-D"),
    "only_1d_npz": (
        lambda d: np.savez(d / "v.npz", a=np.ones(3), b=np.zeros((0, 4))) or d / "v.npz",
        "no non-empty 2-D",
    ),
    "pickled": (
        lambda d: np.save(d / "o.npy", np.array([{"a": 1}], dtype=object)) or d / "o.npy",
        "pickled",
    ),
    "truncated": (
        lambda d: write_bytes(d / "t.npy", (CASES_DIR / "p01.npy").read_bytes()[:300]),
        "truncated",
    ),
    "folder": (lambda d: d, "is a folder"),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
@pytest.mark.slow
def test_bad_input_is_one_line_naming_the_file(tmp_path: Path, kind: str) -> None:
    make, problem = BAD_INPUTS[kind]
    path = make(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "rmt_gui", "analyze", str(path), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and problem in lines[0]
    assert "Traceback" not in result.stderr


def test_nan_layer_is_reported_and_the_rest_analysed(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = np.load(CASES_DIR / "p01.npy").copy()
    bad[1, 2] = np.nan
    path = tmp_path / "mixed.npz"
    np.savez(path, good=np.load(CASES_DIR / "p02.npy"), bad=bad)
    assert main(["analyze", str(path), "--json"]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [layer["name"] for layer in doc["layers"]] == ["good"]
    problem = "NaN or infinite weights (1 NaN of 10000 entries)"
    assert doc["errors"] == [{"name": "bad", "error": problem}]
    assert f"{path}: layer bad: {problem}" in captured.err
