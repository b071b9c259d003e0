"""``rmt-gui evaluate`` / ``analyze`` on ONNX files: a compress output re-evaluates to what
compress reported, its parameters counted from the file; bad ONNX files give one line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from rmt_gui.cli import main
from rmt_gui.model.data import load_mnist
from tests.helpers.cli_errors import file_error
from tests.helpers.compress_models import trained_network
from tests.helpers.onnx_graphs import conv_net
from tests.helpers.paths import DATA_DIR

onnx = pytest.importorskip("onnx")
FAST = ("--data", str(DATA_DIR), "--validation", "500", "--calibration", "256")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    """Run the CLI with ``--json``; it must succeed quietly and print one document."""
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


@pytest.mark.slow
def test_compress_output_evaluates_to_the_reported_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trained = tmp_path / "trained.pt"
    model = trained_network((784, 64, 10), load_mnist(DATA_DIR, train=True).head(4000), 2)
    torch.save(model.state_dict(), trained)
    out = tmp_path / "small.onnx"
    doc = run_json(capsys, "compress", str(trained), "--out", str(out), "--target-params", "0.3",
                   "--finetune-steps", "0", *FAST)  # fmt: skip
    evaluated = run_json(capsys, "evaluate", str(out), "--data", str(DATA_DIR))
    assert abs(evaluated["accuracy"] - doc["test"]["accuracy_after"]) <= 1e-4
    graph = onnx.load(str(out)).graph
    weights = sum(math.prod(t.dims) for t in graph.initializer if t.data_type == 1)
    assert all(t.data_type == 1 for t in graph.initializer)  # no shape constant (a Flatten)
    assert evaluated["params"] == weights == doc["params_after"]
    analyzed = run_json(capsys, "analyze", str(out))
    matrices = [t.name for t in graph.initializer if len(t.dims) == 2]
    assert [layer["name"] for layer in analyzed["layers"]] == matrices
    assert any(name.endswith(".0.weight") for name in matrices)  # a factorised pair reopened


def test_bad_onnx_files_give_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conv = conv_net(tmp_path / "conv.onnx")
    file_error(capsys, "evaluate", str(conv), "ONNX op Conv is not supported for evaluation")
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(conv.read_bytes()[:500])
    file_error(capsys, "analyze", str(cut), "not a valid ONNX file: truncated or corrupt")
    noise = tmp_path / "noise.onnx"
    noise.write_bytes(bytes(range(1, 128)) * 20)
    file_error(capsys, "evaluate", str(noise), "not a valid ONNX file")
