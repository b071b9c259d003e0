"""ONNX export: a factorised MLP round trips through onnxruntime, any batch, atomically."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import pytest
import torch

from rmt_gui.errors import FileError
from rmt_gui.model import onnx_export
from rmt_gui.model.export import default_format, export_model
from rmt_gui.model.onnx_export import TOLERANCE, run_session, sample_images, session
from rmt_gui.model.surgery import truncate
from tests.helpers.model_files import mlp

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def factorised() -> torch.nn.Module:
    """784-32-10 with fc1 factorised at rank 6 (three linear layers in the graph)."""
    model, _ = truncate(mlp(), "fc1.weight", 6, "always")
    return model.eval()


@pytest.fixture(scope="module")
def exported(factorised: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The factorised model written once as ONNX (the exporter takes seconds)."""
    return export_model(factorised, tmp_path_factory.mktemp("onnx") / "model.onnx")


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 3, 300])
def test_round_trip_any_batch(exported: Path, factorised: torch.nn.Module, batch: int) -> None:
    images = sample_images(batch, seed=batch)
    with torch.no_grad():
        expected = factorised(images)
    got = run_session(session(exported), images)
    assert got.shape == (batch, 10)
    assert float((got - expected).abs().max()) < TOLERANCE


@pytest.mark.slow
def test_suffix_chooses_onnx_and_file_is_a_graph(
    exported: Path, factorised: torch.nn.Module
) -> None:
    import onnx

    assert default_format(factorised, exported) == "onnx"
    graph = onnx.load(str(exported)).graph
    assert [i.name for i in graph.input] == ["images"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, dynamic axis
    assert sum(node.op_type in ("Gemm", "MatMul") for node in graph.node) == 3
    assert graph.node[0].op_type == "Flatten" and "Reshape" not in {n.op_type for n in graph.node}
    stored = sum(math.prod(t.dims) for t in graph.initializer)
    assert stored == sum(p.numel() for p in factorised.parameters())  # no shape constant


@pytest.mark.slow
def test_existing_file_is_kept_without_force(exported: Path, factorised: torch.nn.Module) -> None:
    before = exported.read_bytes()
    with pytest.raises(FileError, match="exists"):
        export_model(factorised, exported, "onnx")
    assert exported.read_bytes() == before
    assert os.listdir(exported.parent) == [exported.name]


def test_mismatch_writes_nothing(
    tmp_path: Path, factorised: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_export, "_graph_bytes", lambda model: b"graph")
    monkeypatch.setattr(onnx_export, "session", lambda data: data)
    monkeypatch.setattr(onnx_export, "run_session", lambda runner, images: torch.zeros(1, 10))
    with pytest.raises(FileError, match="does not match the PyTorch model"):
        export_model(factorised, tmp_path / "bad.onnx")
    assert list(tmp_path.iterdir()) == []


def test_without_onnx_one_line_names_the_extra(
    tmp_path: Path, factorised: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(FileError) as caught:
        export_model(factorised, tmp_path / "model.onnx")
    message = str(caught.value)
    assert "\n" not in message and "rmt-gui[onnx]" in message and "onnxscript" in message
    assert list(tmp_path.iterdir()) == []
