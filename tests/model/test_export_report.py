"""The export report: sizes on disk and CPU latencies before and after, for every format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rmt_gui.model.export import export_model
from rmt_gui.model.export_report import ExportReport, Latency, measure_export, size_on_disk
from rmt_gui.model.surgery import truncate
from tests.helpers.model_files import mlp

KEYS = {"fmt", "runtime", "bytes_before", "bytes_after", "latency_before", "latency_after",
        "max_abs_diff"}  # fmt: skip


def _source_and_factorised(tmp_path: Path) -> tuple[torch.nn.Module, Path, torch.nn.Module]:
    """784-32-10 written to a file, and its fc1 factorised at rank 4."""
    model = mlp()
    source = export_model(model, tmp_path / "source.pt")
    small, _ = truncate(model, "fc1.weight", 4, "always")
    return model, source, small


def _check_positive(report: ExportReport) -> None:
    """Sizes and latencies are measured and positive."""
    assert report.bytes_before > 0 and report.bytes_after > 0
    for latency in (report.latency_before, report.latency_after):
        assert isinstance(latency, Latency)
        assert latency.batch_1_ms > 0 and latency.batch_256_ms > 0


@pytest.mark.parametrize("fmt, name", [("rmt-gui", "small.pt"), ("safetensors", "s.safetensors")])
def test_torch_formats(tmp_path: Path, fmt: str, name: str) -> None:
    model, source, small = _source_and_factorised(tmp_path)
    out = export_model(small, tmp_path / name, fmt)
    report = measure_export(model, source, small, out, fmt, repeats=1)
    _check_positive(report)
    assert report.bytes_before == source.stat().st_size
    assert report.bytes_after == out.stat().st_size < report.bytes_before
    assert report.runtime == "torch" and report.max_abs_diff is None
    assert set(report.as_dict()) == KEYS
    line = report.summary()
    assert "\n" not in line and "batch 1 " in line and "batch 256 " in line and "x)" in line


@pytest.mark.slow
def test_onnx_is_timed_with_onnxruntime(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model, source, small = _source_and_factorised(tmp_path)
    out = export_model(small, tmp_path / "small.onnx")
    report = measure_export(model, source, small, out, "onnx", repeats=1)
    _check_positive(report)
    assert report.runtime == "onnxruntime"
    assert report.max_abs_diff is not None and 0 <= report.max_abs_diff < 1e-4
    assert "onnxruntime" in report.summary() and "max |diff|" in report.summary()


def test_model_that_cannot_take_images_has_no_latency(tmp_path: Path) -> None:
    model, source, _ = _source_and_factorised(tmp_path)
    odd = torch.nn.Linear(5, 3)
    out = export_model(odd, tmp_path / "odd.safetensors")
    report = measure_export(model, source, odd, out, "safetensors", repeats=1)
    assert report.latency_after is None and report.latency_before is not None
    assert "latency" not in report.summary() and "size" in report.summary()


def test_folder_size_sums_its_files(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"y" * 5)
    assert size_on_disk(tmp_path) == 15
