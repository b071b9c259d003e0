"""``prune --out`` reports the export's size on disk and CPU latency, as text and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmt_gui.cli import main
from rmt_gui.model.export import export_model
from tests.helpers.model_files import mlp


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """An MLP 784-32-10 in this project's format."""
    return export_model(mlp(), tmp_path / "net.pt")


def test_json_has_sizes_and_latencies(
    tmp_path: Path, source: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "small.pt"
    argv = ["prune", str(source), "--out", str(out), "--rank", "4", "--factorize", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)["export"]
    assert report["fmt"] == "rmt-gui" and report["runtime"] == "torch"
    assert report["bytes_before"] == source.stat().st_size
    assert report["bytes_after"] == out.stat().st_size < report["bytes_before"]
    for side in ("latency_before", "latency_after"):
        assert report[side]["batch_1_ms"] > 0 and report[side]["batch_256_ms"] > 0


def test_text_has_one_export_line(
    tmp_path: Path, source: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "small.safetensors"
    assert main(["prune", str(source), "--out", str(out), "--rank", "4"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "export:" in line]
    assert len(lines) == 1
    assert "size" in lines[0] and "batch 1 " in lines[0] and "batch 256 " in lines[0]


@pytest.mark.slow
def test_prune_to_onnx_reports_onnxruntime(
    tmp_path: Path, source: Path, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    out = tmp_path / "small.onnx"
    argv = ["prune", str(source), "--out", str(out), "--rank", "4", "--factorize", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)["export"]
    assert report["fmt"] == "onnx" and report["runtime"] == "onnxruntime"
    assert 0 <= report["max_abs_diff"] < 1e-4 and out.stat().st_size == report["bytes_after"]
