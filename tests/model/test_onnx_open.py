"""ONNX files open like any model: layers from the initializers, the MLP rebuilt and evaluated."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rmt_gui.errors import FileError
from rmt_gui.model.data import load_mnist
from rmt_gui.model.evaluate import evaluate
from rmt_gui.model.formats import onnx_file
from rmt_gui.model.formats.onnx_file import looks_like_onnx
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.surgery import parameter_count, truncate
from tests.helpers.onnx_graphs import WIDTH, conv_net, matmul_mlp, save, weights

onnx = pytest.importorskip("onnx")
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "resources" / "default_model.pt"


def gemm_mlp(path: Path, names: tuple[str, str], relu_last: bool = False) -> Path:
    """The helper's MLP as two Gemm nodes whose initializers are ``NAME.weight``/``NAME.bias``."""
    from onnx import helper

    w = weights()
    first, second = names
    initializers = {
        f"{first}.weight": w["fc1.weight"], f"{first}.bias": w["fc1.bias"],
        f"{second}.weight": w["fc2.weight"], f"{second}.bias": w["fc2.bias"],
    }  # fmt: skip
    nodes = [
        helper.make_node("Gemm", ["x", f"{first}.weight", f"{first}.bias"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node(
            "Gemm",
            ["r", f"{second}.weight", f"{second}.bias"],
            ["z" if relu_last else "y"],
            transB=1,
        ),
    ]
    if relu_last:
        nodes.append(helper.make_node("Relu", ["z"], ["y"]))
    return save(path, nodes, initializers)


def float_initializer_entries(path: Path) -> int:
    """Entries of the float initializers of an ONNX file (its weights and biases)."""
    graph = onnx.load(str(path)).graph
    return sum(math.prod(t.dims) for t in graph.initializer if t.data_type == 1)


def test_head_detection() -> None:
    assert looks_like_onnx(b"\x08\x0a\x12\x07pytorch")
    assert not looks_like_onnx(b"\x08\x00\x12") and not looks_like_onnx(b"\x80\x02}q")
    assert not looks_like_onnx(b"\x08\x0a\x99")


def test_matmul_graph_rebuilds_the_same_function(tmp_path: Path) -> None:
    from rmt_gui.model.onnx_export import run_session, session

    path = matmul_mlp(tmp_path / "m.onnx")
    checkpoint = open_checkpoint(path)
    assert checkpoint.format == "onnx" and "MLP graph, 2 dense layers" in checkpoint.detail
    layers = checkpoint.layers()
    assert [(i.name, i.shape, i.params) for i in layers] == [
        ("fc1.weight", (WIDTH, 784), WIDTH * 785), ("fc2.weight", (10, WIDTH), 10 * (WIDTH + 1))
    ]  # fmt: skip
    np.testing.assert_array_equal(checkpoint.read("fc1.weight"), weights()["fc1.weight"])
    model = checkpoint.build_model()
    images = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    expected = run_session(session(path, threads=1), images).log()
    with torch.no_grad():
        torch.testing.assert_close(model(images), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("names", "chain"), [(("fc1", "fc2"), ["fc1", "fc2"]), (("net.0", "net.2"), ["net.0", "net.2"]),
                         (("enc.a", "head"), ["fc1", "fc2"]), (("chain", "b"), ["fc1", "fc2"])],
)  # fmt: skip
def test_exported_names_kept_where_they_form_a_chain(
    tmp_path: Path, names: tuple[str, str], chain: list[str]
) -> None:
    checkpoint = open_checkpoint(gemm_mlp(tmp_path / "g.onnx", names))
    assert [info.name for info in checkpoint.layers()] == [f"{name}.weight" for name in chain]
    model = checkpoint.build_model()
    assert model.chain == chain
    assert parameter_count(model) == sum(info.params for info in checkpoint.layers())


def test_relu_after_the_last_layer_is_refused_for_evaluation(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(gemm_mlp(tmp_path / "g.onnx", ("fc1", "fc2"), relu_last=True))
    assert len(checkpoint.layers()) == 2
    with pytest.raises(FileError, match="ReLU that does not sit between two layers"):
        checkpoint.build_model()


def test_conv_graph_lists_layers_but_builds_no_model(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(conv_net(tmp_path / "c.onnx"))
    layers = checkpoint.layers()
    assert [(i.name, i.shape, i.conv_shape) for i in layers] == [
        ("conv.weight", (4, 9), (4, 1, 3, 3)), ("fc.weight", (10, 2704), None)
    ]  # fmt: skip
    with pytest.raises(FileError, match="ONNX op Conv is not supported for evaluation") as caught:
        checkpoint.build_model()
    assert "\n" not in str(caught.value)


def test_external_data_is_refused(tmp_path: Path) -> None:
    path = matmul_mlp(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    onnx.save(model, str(path), save_as_external_data=True, location="m.data", size_threshold=0)
    with pytest.raises(FileError, match=r"external data file \('m.data'\), which is not read"):
        open_checkpoint(path)


def test_lying_tensors_are_one_line_errors(tmp_path: Path) -> None:
    path = matmul_mlp(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    weight = model.graph.initializer[0]
    weight.raw_data = weight.raw_data[:100]
    onnx.save(model, str(path))
    with pytest.raises(FileError, match="ONNX tensor 'onnx::MatMul_7' is corrupt"):
        open_checkpoint(path).read("fc1.weight")
    weight.dims[0] = -3
    onnx.save(model, str(path))
    with pytest.raises(FileError, match="negative dimension"):
        open_checkpoint(path)


def test_oversize_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = matmul_mlp(tmp_path / "m.onnx")
    monkeypatch.setattr(onnx_file, "MAX_BYTES", 1000)
    with pytest.raises(FileError, match="over protobuf's 2 GB limit"):
        open_checkpoint(path)


def test_without_onnx_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = matmul_mlp(tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(FileError, match=r'pip install "rmt-gui\[onnx\]"'):
        open_checkpoint(path)


def test_truncated_and_random_files_give_one_line(tmp_path: Path) -> None:
    whole = matmul_mlp(tmp_path / "m.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "noise.onnx").write_bytes(os.urandom(4096).replace(b"\x80", b"\x81"))
    (tmp_path / "noise.bin").write_bytes((tmp_path / "noise.onnx").read_bytes())
    for name, problem in [("cut.onnx", "truncated or corrupt"),
                          ("noise.onnx", "not a valid ONNX file"),
                          ("noise.bin", "safetensors, ONNX, .npy or .npz")]:  # fmt: skip
        with pytest.raises(FileError, match=problem) as caught:
            open_checkpoint(tmp_path / name)
        assert "\n" not in str(caught.value)


@pytest.fixture(scope="module")
def mnist_slice(data_dir: Path):
    """The first 2,000 MNIST test images."""
    return load_mnist(data_dir, train=False).head(2000)


@pytest.fixture(scope="module")
def default_model() -> nn.Module:
    """The shipped 784-1000-10 model, rebuilt."""
    return open_checkpoint(DEFAULT_MODEL).build_model().eval()


@pytest.mark.slow
@pytest.mark.parametrize("rank", [None, 20])
def test_project_export_reopens_with_the_same_accuracy(
    tmp_path: Path, default_model: nn.Module, mnist_slice, rank: int | None
) -> None:
    from rmt_gui.model.export import export_model

    model = (
        default_model if rank is None else truncate(default_model, "fc1.weight", rank, "always")[0]
    )
    path = export_model(model, tmp_path / "out.onnx")
    checkpoint = open_checkpoint(path)
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items() if t.ndim == 2}
    assert {info.name: info.shape for info in checkpoint.layers()} == expected
    rebuilt = checkpoint.build_model()
    assert rebuilt.chain == ["fc1", "fc2"]
    assert parameter_count(rebuilt) == parameter_count(model) == float_initializer_entries(path)
    before, after = evaluate(model, mnist_slice), evaluate(rebuilt, mnist_slice)
    assert abs(before.accuracy - after.accuracy) <= 1e-4


@pytest.mark.slow
def test_torch_export_of_a_sequential_opens(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 24), nn.ReLU(), nn.Linear(24, 10),
                        nn.LogSoftmax(1)).eval()  # fmt: skip
    example = (torch.rand(3, 1, 28, 28),)
    torch.onnx.export(net, example, tmp_path / "inline.onnx", dynamo=True, external_data=False,
                      verbose=False)  # fmt: skip
    checkpoint = open_checkpoint(tmp_path / "inline.onnx")
    assert [info.name for info in checkpoint.layers()] == ["1.weight", "3.weight"]
    with torch.no_grad():
        torch.testing.assert_close(checkpoint.build_model()(example[0]), net(example[0]))
    torch.onnx.export(net, example, tmp_path / "split.onnx", dynamo=True, verbose=False)
    with pytest.raises(FileError, match="external data file"):
        open_checkpoint(tmp_path / "split.onnx")
