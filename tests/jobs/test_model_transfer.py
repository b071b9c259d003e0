"""Models cross the process boundary as data: exact round trips, never a pickled module."""

from __future__ import annotations

import pickle
import pickletools
import time

import pytest
import torch
from torch import nn

from rmt_gui.jobs.control import CancelToken
from rmt_gui.jobs.evaluation import evaluate_job
from rmt_gui.jobs.model_transfer import (
    ModelData,
    model_from_data,
    model_to_data,
    tensor_from_data,
    tensor_to_data,
)
from rmt_gui.jobs.pipe_messages import dumps
from rmt_gui.jobs.process_worker import JobEnded, JobSpec, ProcessWorker
from rmt_gui.model.jit import quiet_jit
from rmt_gui.model.surgery import truncate
from rmt_gui.model.tree import WeightTree, tree_from_state_dict
from tests.helpers.model_files import PlainNet, mlp, save_torchscript, state
from tests.helpers.paths import DATA_DIR

IMAGES = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def crossed(model: nn.Module) -> nn.Module:
    """``model`` sent as data through the worker pipe's pickling and rebuilt."""
    data = pickle.loads(dumps(model_to_data(model)))
    assert isinstance(data, ModelData)
    return model_from_data(data)


def globals_of(blob: bytes) -> set[str]:
    """The ``module name`` globals a pickle would import."""
    found: set[str] = set()
    strings: list[str] = []
    for opcode, arg, _ in pickletools.genops(blob):
        if isinstance(arg, str):
            strings.append(arg)
        if opcode.name == "GLOBAL":
            found.add(arg)
        elif opcode.name == "STACK_GLOBAL":
            found.add(" ".join(strings[-2:]))
    return found


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    """Same keys, dtypes and values."""
    left, right = a.state_dict(), b.state_dict()
    assert list(left) == list(right)
    for key in left:
        assert left[key].dtype == right[key].dtype
        assert torch.equal(left[key], right[key])


def test_native_mlp_round_trip_keeps_chain_and_outputs() -> None:
    model = mlp()
    back = crossed(model)
    assert isinstance(back, WeightTree) and back.chain == ["fc1", "fc2"]
    assert_same_state(model, back)
    with torch.no_grad():
        assert torch.equal(model(IMAGES), back(IMAGES))


def test_data_holds_no_torch_object() -> None:
    blob = dumps(model_to_data(mlp()))
    assert not any(name.startswith("torch") for name in globals_of(blob))


def test_weights_only_tree_stays_weights_only() -> None:
    tensors = {"a.weight": torch.randn(30, 20), "b.weight": torch.randn(5, 30), "n": torch.ones(3)}
    tree = tree_from_state_dict(tensors)
    back = crossed(tree)
    assert back.chain == []
    assert_same_state(tree, back)


def test_factorised_pair_round_trip() -> None:
    pruned, _ = truncate(mlp(), "fc1.weight", 4, "always")
    back = crossed(pruned)
    assert list(back.state_dict()) == ["fc1.0.weight", "fc1.1.weight", "fc1.1.bias",
                                       "fc2.weight", "fc2.bias"]  # fmt: skip
    assert_same_state(pruned, back)
    with torch.no_grad():
        assert torch.equal(pruned(IMAGES), back(IMAGES))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64, torch.int64])
def test_every_dtype_is_exact(dtype: torch.dtype) -> None:
    tensor = (torch.randn(7, 3) * 100).to(dtype)
    back = tensor_from_data(pickle.loads(dumps(tensor_to_data(tensor))))
    assert back.dtype == dtype and torch.equal(back, tensor)


def test_torchscript_round_trip(tmp_path) -> None:
    path = save_torchscript(PlainNet(), tmp_path / "net.ts")
    with quiet_jit():
        scripted = torch.jit.load(str(path))
    back = crossed(scripted)
    assert isinstance(back, torch.jit.ScriptModule)
    with torch.no_grad():
        assert torch.equal(scripted(IMAGES), back(IMAGES))


def test_trusted_module_crosses_as_torchscript() -> None:
    module = PlainNet()
    data = model_to_data(module)
    assert data.script and not data.tensors
    back = model_from_data(data)
    with torch.no_grad():
        assert torch.equal(module(IMAGES), back(IMAGES))


class Unscriptable(nn.Module):
    """A module whose forward TorchScript cannot compile (it calls a Python builtin on types)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1)) if isinstance(x, object) and callable(print) else x


def test_unscriptable_module_crosses_as_weights_with_a_note() -> None:
    data = model_to_data(Unscriptable())
    assert not data.script and "TorchScript" in data.note
    back = model_from_data(data)
    assert back.chain == [] and list(back.state_dict()) == ["fc.weight", "fc.bias"]


@pytest.mark.slow
def test_evaluation_in_a_worker_process_equals_the_one_here() -> None:
    model = tree_from_state_dict(state())
    model.chain = ["fc1", "fc2"]
    here = list(evaluate_job(model, DATA_DIR, 300, CancelToken()))[-1]
    worker = ProcessWorker(threads=1)
    spec = JobSpec(
        "rmt_gui.jobs.model_transfer", "model_job",
        ("rmt_gui.jobs.evaluation", "evaluate_job", model_to_data(model), str(DATA_DIR), 300),
    )  # fmt: skip
    worker.start(spec)
    items: list = []
    deadline = time.monotonic() + 120
    while worker.running and time.monotonic() < deadline:
        items += worker.poll()
        time.sleep(0.02)
    assert worker.close(30)
    assert items[-1] == JobEnded("done")
    there = items[-2]
    assert worker.pid is None
    assert (there.accuracy, there.loss, there.count) == (here.accuracy, here.loss, here.count)
