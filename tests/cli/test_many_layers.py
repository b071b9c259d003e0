"""Files of thousands of tiny tensors: every layer is listed (too small to fit: no fit fields),
``sv_max`` is exact, and ``prune``/``evaluate`` refuse them in one line instead of hanging."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from rmt_gui.cli import main
from rmt_gui.cli.common import print_json
from rmt_gui.errors import FileError
from rmt_gui.model.analysis import (
    UNFITTED_FIELDS,
    LayerFailure,
    UnfittedLayer,
    analyze_layer,
    analyze_layers,
)
from rmt_gui.model.checkpoint import LayerInfo
from rmt_gui.model.formats.safetensors_file import SafetensorsCheckpoint
from rmt_gui.spectral import LayerAnalysis, spectrum_of
from rmt_gui.spectral.analysis import top_singular_values

COUNT = 20_000
SHAPES = ((2, 2), (3, 5), (1, 7), (9, 40))


def tiny_tensors(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``count`` float32 weights cycling through :data:`SHAPES`, random values."""
    rng = np.random.default_rng(seed)
    return {
        f"l{i:05d}.weight": rng.standard_normal(SHAPES[i % len(SHAPES)]).astype(np.float32)
        for i in range(count)
    }


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """A safetensors file of :data:`COUNT` tiny tensors, one of them NaN, and its tensors."""
    tensors = tiny_tensors(COUNT)
    tensors["l00007.weight"][0, 0] = np.nan
    path = tmp_path_factory.mktemp("many") / "many.safetensors"
    save_file(tensors, str(path))
    return path, tensors


def name_of(result: LayerAnalysis | UnfittedLayer | LayerFailure) -> str:
    """The layer name of any result of :func:`analyze_layers`."""
    return result.name if isinstance(result, LayerAnalysis) else result.info.name


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, list[str]]:
    """``(status, stdout, stderr lines)`` of ``rmt-gui ARGS`` run in this process."""
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err.splitlines()


@pytest.mark.slow
def test_every_tiny_layer_is_listed_with_its_note_and_exact_sv_max(
    many: tuple[Path, dict[str, np.ndarray]], capsys: pytest.CaptureFixture
) -> None:
    path, tensors = many
    status, out, err = run(capsys, "analyze", "--json", str(path))
    doc = json.loads(out)
    assert status == 1 and len(err) == 1 and "l00007.weight" in err[0]
    assert doc["errors"] == [
        {"name": "l00007.weight", "error": "NaN or infinite weights (1 NaN of 360 entries)"}
    ]
    layers = doc["layers"]
    assert [layer["name"] for layer in layers] == [n for n in tensors if n != "l00007.weight"]
    assert len(out.splitlines()) == len(layers) + 8  # one line per layer record
    for layer in layers[:: COUNT // 200]:
        matrix = tensors[layer["name"]]
        p = min(matrix.shape)
        assert layer["shape"] == list(matrix.shape) and layer["params"] == matrix.size
        assert layer["sv_max"] == pytest.approx(np.linalg.norm(matrix.astype(float), 2), 1e-12)
        assert all(layer[field] is None for field in UNFITTED_FIELDS)
        assert layer["note"] == f"too small to fit: p = {p} eigenvalue{'' if p == 1 else 's'}"


@pytest.mark.slow
def test_the_table_shows_dashes_for_the_missing_fit(
    many: tuple[Path, dict[str, np.ndarray]], capsys: pytest.CaptureFixture
) -> None:
    path, _ = many
    status, out, _ = run(capsys, "analyze", str(path))
    lines = out.splitlines()
    assert status == 1 and lines[1].split()[:4] == ["layer", "shape", "params", "sv_max"]
    row = lines[3].split()
    assert row[:3] == ["l00001.weight", "3x5", "15"] and row[4:] == ["-"] * 9
    assert float(row[3]) == pytest.approx(np.linalg.norm(many[1]["l00001.weight"], 2), 1e-3)
    notes = [line for line in lines if line.startswith("note: ")]
    assert len(notes) == COUNT - 1
    assert notes[0] == "note: l00000.weight: too small to fit: p = 2 eigenvalues"


@pytest.mark.slow
def test_prune_and_evaluate_refuse_too_many_layers_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "wide.safetensors"
    save_file(tiny_tensors(10_001), str(path))
    status, out, err = run(capsys, "prune", str(path), "--bema", "--out", str(tmp_path / "o.pt"))
    assert (status, out) == (1, "") and err == [
        f"rmt-gui: error: {path}: cannot prune 10001 layers in one run (at most 2000); "
        "choose some with --layer"
    ]
    status, out, err = run(capsys, "evaluate", str(path), "--data", str(tmp_path))
    assert (status, out) == (1, "") and err == [
        f"rmt-gui: error: {path}: cannot rebuild a model from 10001 tensors (at most 10000)"
    ]
    assert not (tmp_path / "o.pt").exists()


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (4, 4), (9, 200), (30, 3)])
@pytest.mark.parametrize("scale", [1.0, 0.0, 1e-150, 1e150])
def test_batched_top_singular_values_match_the_spectrum(
    shape: tuple[int, int], scale: float
) -> None:
    rng = np.random.default_rng(1)
    stack = rng.standard_normal((5, *shape)) * scale
    stack[2] = 0.0
    stack[3, 0] = 0.0
    expected = [spectrum_of(matrix).singular_values[0] for matrix in stack]
    np.testing.assert_allclose(top_singular_values(stack), expected, rtol=1e-13, atol=0.0)


def test_batched_route_marks_what_the_spectrum_refuses() -> None:
    stack = np.ones((4, 2, 3))
    stack[0, 1, 1] = np.inf
    stack[1] *= 1e-170  # s**2 / n below float64's smallest normal
    stack[2] *= 1e200  # s**2 / n overflows
    top = top_singular_values(stack)
    assert np.isnan(top[:3]).all() and top[3] == pytest.approx(np.sqrt(6.0))


def test_refused_tiny_layers_keep_the_spectral_message_and_model_order(tmp_path: Path) -> None:
    tensors = tiny_tensors(12, seed=2)
    tensors["l00004.weight"] = tensors["l00004.weight"].astype(np.float64) * 1e-170
    tensors["l00005.weight"][1, 2] = np.inf
    big = np.random.default_rng(3).standard_normal((40, 60)).astype(np.float32)
    path = tmp_path / "mixed.safetensors"
    save_file({**tensors, "l00005b.weight": big}, str(path))
    checkpoint = SafetensorsCheckpoint(path)
    order = [info.name for info in checkpoint.layers()]
    results = list(analyze_layers(checkpoint, min_fit_p=10))
    assert [name_of(result) for result in results] == order and order.index("l00005b.weight") > 0
    kinds = {name_of(result): type(result) for result in results}
    assert kinds["l00005b.weight"] is LayerAnalysis and kinds["l00003.weight"] is UnfittedLayer
    failures = {r.info.name: r.problem for r in results if isinstance(r, LayerFailure)}
    assert failures["l00005.weight"] == "NaN or infinite weights (1 inf of 15 entries)"
    assert "too small for float64" in failures["l00004.weight"]
    fitted = analyze_layer(checkpoint.layer("l00005b.weight"), big)
    assert results[order.index("l00005b.weight")] == fitted


def test_min_fit_p_decides_between_a_fit_and_a_listing() -> None:
    info = LayerInfo(name="w", shape=(3, 4), params=12, dtype="float64")
    matrix = np.arange(12.0).reshape(3, 4)
    unfitted = analyze_layer(info, matrix, min_fit_p=4)
    assert isinstance(unfitted, UnfittedLayer)
    assert unfitted.sv_max == spectrum_of(matrix).singular_values[0]
    assert not isinstance(analyze_layer(info, matrix, min_fit_p=3), UnfittedLayer | LayerFailure)


def test_print_json_writes_one_line_per_item_and_stays_strict(
    capsys: pytest.CaptureFixture,
) -> None:
    print_json({"file": "x", "layers": [{"a": 1.0}, {"a": float("nan"), "b": np.float32(2)}]})
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "{", '  "file": "x",', '  "layers": [', '    {"a": 1.0},', '    {"a": null, "b": 2.0}',
        "  ]", "}",
    ]  # fmt: skip


def test_a_file_that_changes_size_after_opening_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file(tiny_tensors(3), str(path))
    checkpoint = SafetensorsCheckpoint(path)
    with path.open("ab") as handle:
        handle.write(b"\0" * 16)
    with pytest.raises(FileError, match="changed size since it was opened"):
        checkpoint.read("l00000.weight")
