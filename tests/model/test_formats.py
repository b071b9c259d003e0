"""Every supported format opens by content, whatever its name, with the right layers and detail."""

from __future__ import annotations

import mmap
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from rmt_gui.errors import FileError
from rmt_gui.model.export import export_model
from rmt_gui.model.formats.torch_files import TrustRequiredError
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.surgery import truncate
from tests.helpers.model_files import PlainNet, SmallCnn, mlp, save_torchscript, sequential, state

MLP_LAYERS = ["fc1.weight", "fc2.weight"]


def assert_same_weights(path: Path, expected: dict[str, torch.Tensor], **kwargs: bool) -> None:
    """The file lists ``expected``'s 2-D weights in order and reads them back exactly."""
    checkpoint = open_checkpoint(path, **kwargs)
    names = [name for name, value in expected.items() if value.ndim == 2]
    assert [info.name for info in checkpoint.layers()] == names
    for name in names:
        np.testing.assert_array_equal(checkpoint.read(name), expected[name].float().numpy())


def test_state_dict_with_any_extension(tmp_path: Path) -> None:
    weights = state()
    for name in ("model.pt", "model.pth", "model.bin", "weights.npz.backup"):
        torch.save(weights, tmp_path / name)
        checkpoint = open_checkpoint(tmp_path / name)
        assert checkpoint.format == "state-dict"
        assert_same_weights(tmp_path / name, weights)


def test_legacy_pickle_state_dict(tmp_path: Path) -> None:
    weights = state()
    path = tmp_path / "legacy.pt"
    torch.save(weights, path, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:1] == b"\x80"
    assert open_checkpoint(path).format == "state-dict"
    assert_same_weights(path, weights)


def test_training_checkpoint_says_which_key(tmp_path: Path) -> None:
    weights = state()
    optimiser = torch.optim.SGD(mlp().parameters(), lr=0.1, momentum=0.9)
    path = tmp_path / "epoch3.ckpt"
    torch.save(
        {"epoch": 3, "model_state_dict": weights, "optimizer_state_dict": optimiser.state_dict()},
        path,
    )
    checkpoint = open_checkpoint(path)
    assert checkpoint.format == "training-checkpoint"
    assert "'model_state_dict'" in checkpoint.detail
    assert "optimizer_state_dict" in checkpoint.detail
    assert_same_weights(path, weights)


def test_nested_training_checkpoint(tmp_path: Path) -> None:
    weights = state()
    path = tmp_path / "nested.pt"
    torch.save({"step": 10, "checkpoint": {"ema": weights, "note": "x"}}, path)
    checkpoint = open_checkpoint(path)
    assert "'checkpoint.ema'" in checkpoint.detail
    assert_same_weights(path, weights)


def test_data_parallel_prefix_keeps_keys_and_runs(tmp_path: Path) -> None:
    weights = {f"module.{key}": value for key, value in state().items()}
    path = tmp_path / "dp.pt"
    torch.save(weights, path)
    assert_same_weights(path, weights)
    model = open_checkpoint(path).build_model()
    assert model.chain == ["module.fc1", "module.fc2"]
    images = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(model(images), mlp()(images))


def test_sequential_state_dict_with_gaps_chains(tmp_path: Path) -> None:
    net = sequential()
    path = tmp_path / "seq.pt"
    torch.save({f"net.{key}": value for key, value in net.state_dict().items()}, path)
    model = open_checkpoint(path).build_model()
    assert model.chain == ["net.0", "net.2"]
    images = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(model(images), torch.log_softmax(net(images.flatten(1)), 1))


def test_cnn_state_dict_lists_conv_reshaped_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "cnn.pt"
    cnn = SmallCnn()
    torch.save(cnn.state_dict(), path)
    conv, fc = open_checkpoint(path).layers()
    assert (conv.name, conv.shape, conv.conv_shape) == ("conv.weight", (4, 9), (4, 1, 3, 3))
    assert conv.params == 4 * 9 + 4
    assert conv.dtype == fc.dtype == "float32" and not conv.is_factor
    assert (fc.name, fc.shape, fc.conv_shape) == ("fc.weight", (10, 2704), None)
    reshaped = open_checkpoint(path).read("conv.weight")
    np.testing.assert_array_equal(reshaped, cnn.conv.weight.detach().reshape(4, 9).numpy())


@pytest.mark.parametrize(
    ("dtype", "label"), [(torch.bfloat16, "bfloat16"), (torch.float16, "float16")]
)
def test_safetensors_half_precision(tmp_path: Path, dtype: torch.dtype, label: str) -> None:
    weights = {key: value.to(dtype) for key, value in state().items()}
    path = tmp_path / "model.weights"
    save_file(weights, path)
    checkpoint = open_checkpoint(path)
    assert checkpoint.format == "safetensors"
    assert [info.dtype for info in checkpoint.layers()] == [label, label]
    read = checkpoint.read("fc1.weight")
    assert read.dtype == np.float32
    np.testing.assert_array_equal(read, weights["fc1.weight"].float().numpy())
    model = checkpoint.build_model()
    assert model.chain == ["fc1", "fc2"]


def test_safetensors_reads_are_memory_maps(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_file(state(), path)
    array = open_checkpoint(path).array("fc1.weight")
    owner = array
    while isinstance(owner, np.ndarray):
        owner = owner.base
    assert isinstance(owner, memoryview) and isinstance(owner.obj, mmap.mmap)
    assert not array.flags.writeable


def test_torchscript(tmp_path: Path) -> None:
    net = sequential()
    path = save_torchscript(net, tmp_path / "scripted.pt")
    checkpoint = open_checkpoint(path)
    assert checkpoint.format == "torchscript"
    assert [info.name for info in checkpoint.layers()] == ["0.weight", "2.weight"]
    np.testing.assert_array_equal(checkpoint.read("0.weight"), net[0].weight.detach().numpy())
    images = torch.rand(2, 1, 28, 28).flatten(1)
    torch.testing.assert_close(checkpoint.build_model()(images), net(images))


def test_torchscript_cnn_lists_conv(tmp_path: Path) -> None:
    path = save_torchscript(SmallCnn(), tmp_path / "cnn.ts")
    layers = open_checkpoint(path).layers()
    assert [(info.name, info.conv_shape) for info in layers] == [
        ("conv.weight", (4, 1, 3, 3)),
        ("fc.weight", None),
    ]


def test_pickled_module_needs_trust(tmp_path: Path) -> None:
    path = tmp_path / "whole.pt"
    net = PlainNet()
    torch.save(net, path)
    with pytest.raises(TrustRequiredError) as info:
        open_checkpoint(path)
    message = str(info.value)
    assert str(path) in message and "tests.helpers.model_files.PlainNet" in message
    assert "runs code" in message and "--trust" in message
    checkpoint = open_checkpoint(path, trust=True)
    assert checkpoint.format == "pickled-module"
    assert [info.name for info in checkpoint.layers()] == MLP_LAYERS
    images = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(checkpoint.build_model()(images), net(images))


def test_native_round_trip_with_factorised_layer(tmp_path: Path) -> None:
    model, _ = truncate(mlp(), "fc1.weight", 5, "always")
    path = export_model(model, tmp_path / "pruned.rmt", history=["opened", "rank 5"])
    checkpoint = open_checkpoint(path)
    assert checkpoint.format == "rmt-gui"
    assert checkpoint.history == ["opened", "rank 5"]
    layers = checkpoint.layers()
    assert [(info.name, info.factor_group) for info in layers] == [
        ("fc1.0.weight", "fc1"),
        ("fc1.1.weight", "fc1"),
        ("fc2.weight", None),
    ]
    assert [info.shape for info in layers] == [(5, 784), (32, 5), (10, 32)]
    rebuilt = checkpoint.build_model()
    assert rebuilt.chain == ["fc1", "fc2"]
    images = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(rebuilt(images), model(images))


def test_npy_is_named_after_the_file_and_prunable(tmp_path: Path) -> None:
    weight = state()["fc1.weight"]
    path = tmp_path / "first_layer.npy"
    np.save(path, weight.numpy())
    checkpoint = open_checkpoint(path)
    (info,) = checkpoint.layers()
    assert (info.name, info.shape, info.params) == ("first_layer", (32, 784), 32 * 784)
    model = checkpoint.build_model()
    assert list(model.state_dict()) == ["first_layer"]
    pruned, change = truncate(model, "first_layer", 4)
    assert change.rank_after == 4
    assert torch.linalg.matrix_rank(pruned.state_dict()["first_layer"], rtol=1e-5) == 4


def test_npz_counts_biases(tmp_path: Path) -> None:
    path = tmp_path / "weights.npz"
    np.savez(path, **{key: value.numpy() for key, value in state().items()})
    checkpoint = open_checkpoint(path)
    assert [(info.name, info.params) for info in checkpoint.layers()] == [
        ("fc1.weight", 32 * 784 + 32),
        ("fc2.weight", 10 * 32 + 10),
    ]
    assert checkpoint.build_model().chain == ["fc1", "fc2"]


def test_no_2d_weights_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vectors.pt"
    torch.save({"a": torch.ones(3), "steps": torch.tensor(4)}, path)
    with pytest.raises(FileError, match="no 2-D float weights"):
        open_checkpoint(path)


@pytest.mark.slow
def test_main_script_class_needs_a_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "main.pt"
    script = tmp_path / "save.py"
    script.write_text(
        "import sys, torch\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = torch.nn.Linear(784, 10)\n"
        "torch.save(Net(), sys.argv[1])\n"
    )
    subprocess.run([sys.executable, str(script), str(path)], check=True)
    with pytest.raises(FileError) as info:
        open_checkpoint(path, trust=True)
    message = str(info.value)
    assert "\n" not in message
    assert "'Net'" in message and "__main__" in message and "state_dict" in message
