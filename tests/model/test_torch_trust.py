"""PyTorch files that are odd, malformed or hostile: each opens correctly or fails in one line.

Odd tensors (float8, sparse, meta, views), odd keys, this project's format with wrong fields,
altered archive bytes, undecodable file names, and pickles that would run code: the refusal names
what they would import and call, and the marker file they would create never appears.
"""

from __future__ import annotations

import json
import os
import pickle
import pickletools
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rmt_gui.cli import main
from rmt_gui.errors import PROBLEM_LIMIT, FileError
from rmt_gui.model.export import export_model
from rmt_gui.model.formats import torch_files
from rmt_gui.model.formats.pickle_scan import UNRESOLVED, scan_bytes, scan_file
from rmt_gui.model.formats.tensors import EXPAND_LIMIT
from rmt_gui.model.formats.torch_files import TrustRequiredError
from rmt_gui.model.native import native_payload
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.tree import KeyClashError, tree_from_state_dict
from tests.helpers.cli_errors import error_line
from tests.helpers.hostile_pickles import (
    HOSTILE,
    SystemCall,
    flip_byte,
    nested_payload,
    rewrite_members,
    save_hostile,
)
from tests.helpers.model_files import mlp, state

UNDECODABLE = os.fsdecode(b"model_\xff.pt")
DELETE = object()


def saved(path: Path, payload: object) -> Path:
    """``torch.save(payload)`` to ``path``, through an open file (any file name works)."""
    with path.open("wb") as handle:
        torch.save(payload, handle)
    return path


def with_weight(tmp_path: Path, tensor: torch.Tensor, key: str = "fc1.weight") -> Path:
    """The test MLP's state dict with ``key`` replaced by ``tensor``."""
    return saved(tmp_path / "model.pt", {**state(), key: tensor})


def run_ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI; assert it succeeds and return what it printed."""
    status = main(list(argv))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured.out


def analysed(capsys: pytest.CaptureFixture[str], path: Path) -> list[str]:
    """Layer names ``rmt-gui analyze --json`` reports for ``path``, with no layer errors."""
    document = json.loads(run_ok(capsys, "analyze", str(path), "--json"))
    assert "errors" not in document
    return [layer["name"] for layer in document["layers"]]


def pruned(capsys: pytest.CaptureFixture[str], path: Path, out: Path) -> dict[str, torch.Tensor]:
    """Prune every layer to rank 2 with the CLI and return the written state dict."""
    run_ok(capsys, "prune", str(path), "--rank", "2", "--out", str(out), "--format", "state-dict")
    return torch.load(out, weights_only=True)


def prune_args(path: Path, tmp_path: Path) -> list[str]:
    """``prune PATH --rank 2 --out OUT`` for the CLI."""
    return ["prune", str(path), "--rank", "2", "--out", str(tmp_path / "out.pt")]


def quiet(build: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    """``build`` run with torch's prototype and deprecation warnings silenced."""

    def run() -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build()

    return run


# Odd tensors ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float8_e4m3fn, torch.float8_e5m2])
def test_float8_layers_are_widened_for_analysis_and_pruning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dtype: torch.dtype
) -> None:
    weight = state()["fc1.weight"].to(dtype)
    path = with_weight(tmp_path, weight)
    checkpoint = open_checkpoint(path)
    assert checkpoint.layer("fc1.weight").dtype == str(dtype).removeprefix("torch.")
    np.testing.assert_array_equal(checkpoint.read("fc1.weight"), weight.float().numpy())
    assert analysed(capsys, path) == ["fc1.weight", "fc2.weight"]
    result = pruned(capsys, path, tmp_path / "out.pt")
    assert torch.linalg.matrix_rank(result["fc1.weight"].float()) == 2


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_layers_are_made_dense(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    dense = state()["fc1.weight"] * (torch.rand(32, 784) > 0.7)
    sparse = quiet(dense.to_sparse if layout == "coo" else dense.to_sparse_csr)()
    path = with_weight(tmp_path, sparse)
    np.testing.assert_array_equal(open_checkpoint(path).read("fc1.weight"), dense.numpy())
    assert analysed(capsys, path) == ["fc1.weight", "fc2.weight"]
    assert pruned(capsys, path, tmp_path / "out.pt")["fc1.weight"].layout == torch.strided


def test_sparse_layer_too_large_to_expand_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    side = 5000
    assert side * side > EXPAND_LIMIT
    indices = torch.tensor([[0, 4999], [7, 1]])
    huge = torch.sparse_coo_tensor(indices, torch.ones(2), (side, side), check_invariants=True)
    path = with_weight(tmp_path, huge, "big.weight")
    line = error_line(capsys, "analyze", str(path))
    assert "layer big.weight is a sparse 5000x5000 tensor, too large to expand here" in line


@pytest.mark.parametrize("command", ["analyze", "prune", "evaluate"])
def test_meta_tensor_has_no_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = with_weight(tmp_path, torch.empty(32, 784, device="meta"))
    argv = prune_args(path, tmp_path) if command == "prune" else [command, str(path)]
    assert "layer fc1.weight has no data (meta tensor)" in error_line(capsys, *argv)


ODD_TENSORS = {
    "complex": lambda: torch.randn(32, 784, dtype=torch.complex64),
    "bool": lambda: torch.rand(32, 784) > 0.5,
    "int": lambda: torch.randint(-5, 5, (32, 784), dtype=torch.int32),
    "0-d": lambda: torch.tensor(3.5),
    "empty": lambda: torch.empty(0, 784),
    "quantized": quiet(
        lambda: torch.quantize_per_tensor(torch.randn(32, 784), 0.1, 0, torch.qint8)
    ),
}


@pytest.mark.parametrize("kind", ODD_TENSORS)
def test_non_float_and_empty_tensors_are_kept_but_not_analysed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    odd = ODD_TENSORS[kind]()
    path = with_weight(tmp_path, odd)
    checkpoint = open_checkpoint(path)
    assert [info.name for info in checkpoint.layers()] == ["fc2.weight"]
    kept = checkpoint.build_model().state_dict()["fc1.weight"]
    assert kept.dtype == odd.dtype and kept.shape == odd.shape
    assert analysed(capsys, path) == ["fc2.weight"]
    run_ok(capsys, *prune_args(path, tmp_path))


def test_empty_weight_with_matching_bias_is_no_linear_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = {**state(), "fc0.weight": torch.empty(0, 784), "fc0.bias": torch.empty(0)}
    path = saved(tmp_path / "empty.pt", weights)
    model = open_checkpoint(path).build_model()
    assert not isinstance(model.get_submodule("fc0"), nn.Linear)
    assert analysed(capsys, path) == ["fc1.weight", "fc2.weight"]
    run_ok(capsys, *prune_args(path, tmp_path))


def test_views_sharing_one_storage_read_as_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = torch.randn(64, 2 * 784)
    weights = {
        "fc1.weight": base[:32, ::2], "fc1.bias": base[40, :32], "fc2.weight": base[:32, :10].t(),
        "fc2.bias": torch.zeros(10), "whole": base,
    }  # fmt: skip
    path = saved(tmp_path / "views.pt", weights)
    checkpoint = open_checkpoint(path)
    for name in ("fc1.weight", "fc2.weight", "whole"):
        np.testing.assert_array_equal(checkpoint.read(name), weights[name].numpy())
    assert checkpoint.build_model().chain == ["fc1", "fc2"]
    assert analysed(capsys, path) == ["fc1.weight", "fc2.weight", "whole"]
    run_ok(capsys, *prune_args(path, tmp_path))


def test_small_tensor_repeating_its_values_is_copied_out(tmp_path: Path) -> None:
    row = torch.randn(1, 784)
    checkpoint = open_checkpoint(with_weight(tmp_path, row.expand(32, 784)))
    np.testing.assert_array_equal(checkpoint.read("fc1.weight"), row.expand(32, 784).numpy())
    assert checkpoint.build_model().state_dict()["fc1.weight"].is_contiguous()


def test_large_tensor_repeating_few_stored_values_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = with_weight(tmp_path, torch.randn(1, 5000).expand(4096, 5000), "wide.weight")
    assert path.stat().st_size < 4096 * 5000 // 100
    line = error_line(capsys, "analyze", str(path))
    assert "layer wide.weight repeats 5000 stored values as a 4096x5000 tensor" in line


def test_many_repeating_tensors_share_one_expansion_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = torch.randn(1, 4096)
    count = EXPAND_LIMIT // (1024 * 4096) + 1
    weights = {f"layer{i}.weight": row.expand(1024, 4096) for i in range(count)}
    path = saved(tmp_path / "repeats.pt", weights)
    line = error_line(capsys, "analyze", str(path))
    assert f"layer layer{count - 1}.weight repeats 4096 stored values" in line


def test_nested_tensor_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested = quiet(lambda: torch.nested.nested_tensor([torch.ones(2, 3), torch.ones(4, 3)]))()
    path = with_weight(tmp_path, nested, "ragged")
    assert "tensor ragged is a nested tensor" in error_line(capsys, "analyze", str(path))


# Odd keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["prune", "evaluate"])
def test_empty_key_is_analysed_but_cannot_be_rebuilt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = with_weight(tmp_path, torch.randn(6, 5), "")
    assert analysed(capsys, path) == ["fc1.weight", "fc2.weight", ""]
    argv = prune_args(path, tmp_path) if command == "prune" else [command, str(path)]
    assert "cannot rebuild a model: the key '' is empty" in error_line(capsys, *argv)


@pytest.mark.parametrize(
    ("extra", "clash"),
    [
        ({"fc1.weight.weight": torch.randn(4, 4)}, "key clash fc1.weight / fc1.weight.weight"),
        ({"fc1": torch.randn(4, 4)}, "key clash fc1 / fc1.weight"),
        ({"fc2.bias.x.y": torch.randn(4, 4)}, "key clash fc2.bias / fc2.bias.x.y"),
    ],
)
def test_tensor_named_like_a_submodule_is_a_key_clash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: dict, clash: str
) -> None:
    for order, weights in enumerate(({**state(), **extra}, {**extra, **state()})):
        path = saved(tmp_path / f"clash{order}.pt", weights)
        assert "fc1.weight" in analysed(capsys, path)
        for argv in (prune_args(path, tmp_path), ["evaluate", str(path)]):
            assert f"cannot rebuild a model: {clash}" in error_line(capsys, *argv)
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("key", ["chain", "training", "forward.weight", "fc1.eval", "a..b", ".w"])
def test_keys_no_module_can_hold_are_refused_when_rebuilding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    weights = {**state(), key: torch.randn(3, 3)}
    with pytest.raises(KeyClashError, match=r"^cannot rebuild a model: "):
        tree_from_state_dict(weights)
    line = error_line(capsys, *prune_args(saved(tmp_path / "odd.pt", weights), tmp_path))
    assert "cannot rebuild a model" in line


@pytest.mark.parametrize("first", ["children", "linear"])
def test_linear_with_children_keeps_every_key(first: str) -> None:
    linear = {"fc1.weight": torch.randn(4, 3), "fc1.bias": torch.randn(4)}
    child = {"fc1.adapter.scale": torch.randn(4)}
    weights = {**child, **linear} if first == "children" else {**linear, **child}
    tree = tree_from_state_dict(weights)
    assert set(tree.state_dict()) == set(weights)
    assert isinstance(tree.get_submodule("fc1"), nn.Linear)


@pytest.mark.parametrize(
    ("payload", "named_by"),
    [
        ({0: torch.randn(3, 3)}, "<int 0>"),
        ({(1, 2): torch.randn(3, 3), "fc.weight": torch.randn(10, 784)}, "<tuple>"),
        ({"state_dict": {2.5: torch.randn(3, 3)}}, "<float 2.5>"),
        ({10**12: torch.randn(3, 3)}, "<int>"),
    ],
)
def test_tensors_named_by_something_other_than_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: dict, named_by: str
) -> None:
    path = saved(tmp_path / "keys.pt", payload)
    line = error_line(capsys, "analyze", str(path))
    assert f"is named by {named_by}, not by text" in line


def test_wrapper_keys_that_are_not_text_are_listed(tmp_path: Path) -> None:
    path = saved(tmp_path / "ckpt.pt", {"state_dict": state(), 3: "x", (1, 2): 5, "epoch": 4})
    checkpoint = open_checkpoint(path)
    assert checkpoint.format == "training-checkpoint"
    assert "(also: <int 3>, <tuple>, epoch)" in checkpoint.detail


def test_deeply_nested_payload_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    depth = 5000
    source = saved(tmp_path / "flat.pt", state())

    def nest(name: str, data: bytes) -> bytes:
        if not name.endswith("data.pkl"):
            return data
        return data[:2] + b"}X\x01\x00\x00\x00k" * depth + data[2:-1] + b"s" * depth + b"."

    path = rewrite_members(source, nest, tmp_path / "deep.pt")
    assert "no tensors found" in error_line(capsys, "analyze", str(path))


def test_int_too_long_to_print_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = saved(tmp_path / "huge.pt", {10**5000: 1, "state_dict": state()})
    assert "the safe loader cannot read it" in error_line(capsys, "analyze", str(path))


# This project's format with wrong fields ---------------------------------------------------


def native_file(tmp_path: Path, field: str, value: object) -> Path:
    """A valid rmt-gui checkpoint of the test MLP with ``field`` set to ``value`` (or removed)."""
    payload = native_payload(mlp(), ["opened"], {"epochs": 1})
    if value is DELETE:
        del payload[field]
    else:
        payload[field] = value
    return saved(tmp_path / "model.rmt", payload)


def chain(names: object, **fields: object) -> dict:
    """An MLP architecture record with ``names`` as its chain."""
    return {"kind": "mlp", "chain": names, "input_shape": [1, 28, 28], **fields}


BAD_FIELDS = [
    ("version", "1", "bad format version (text '1'"),
    ("version", None, "bad format version (none"),
    ("version", DELETE, "bad format version (none"),
    ("version", 1.0, "bad format version (a float (1)"),
    ("version", True, "bad format version (a bool"),
    ("version", 2, "written by a newer rmt-gui (format version 2)"),
    ("version", 10**40, "newer rmt-gui (format version a huge number)"),
    ("version", -1, "unknown format version -1"),
    ("version", 0, "unknown format version 0"),
    ("state_dict", [1, 2], "state_dict is a list"),
    ("state_dict", {}, "without weights"),
    ("state_dict", DELETE, "without weights"),
    ("state_dict", {1: torch.ones(2, 2)}, "a weight named by 1"),
    ("state_dict", {"fc1.weight": "text"}, "weight fc1.weight is text 'text'"),
    ("architecture", [], "architecture is a list"),
    ("architecture", "mlp", "architecture is text 'mlp'"),
    ("architecture", {"kind": "cnn"}, "unknown architecture kind (text 'cnn'"),
    ("architecture", {"chain": ["fc1", "fc2"]}, "unknown architecture kind (none"),
    ("architecture", chain("fc1"), "MLP chain is text 'fc1'"),
    ("architecture", chain([1, 2]), "MLP chain is a list, not a list of layer names"),
    ("architecture", chain([]), "MLP chain is a list"),
    ("architecture", chain(None), "MLP chain is none"),
    ("architecture", chain(["fc1", "fc9"]), "chain names a missing layer fc9"),
    ("architecture", chain(["fc2", "fc1"]), "the input has 784 values but fc2 takes 32"),
    ("architecture", chain(["fc1", "fc1"]), "fc1 gives 32 values but fc1 takes 784"),
    ("architecture", chain(["fc1", "fc2"], activation="gelu"), "activation is text 'gelu'"),
    ("architecture", chain(["fc1", "fc2"], output=3), "output is 3 (only log_softmax"),
    ("architecture", chain(["fc1", "fc2"], input_shape=[3, 32, 32]), "input has 3072 values"),
    ("architecture", chain(["fc1", "fc2"], input_shape="28x28"), "input_shape is text"),
    ("architecture", chain(["fc1", "fc2"], input_shape=[0, -1]), "input_shape is a list"),
]


@pytest.mark.parametrize(("field", "value", "problem"), BAD_FIELDS)
def test_native_checkpoint_with_a_wrong_field_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object, problem: str
) -> None:
    path = native_file(tmp_path, field, value)
    with pytest.raises(FileError, match="rmt-gui"):
        open_checkpoint(path)
    assert problem in error_line(capsys, "analyze", str(path))


@pytest.mark.parametrize(
    ("field", "value", "note"),
    [
        ("metadata", [1, 2], "metadata ignored (a list, not a mapping)"),
        ("metadata", "x", "metadata ignored (text 'x', not a mapping)"),
        ("history", "opened", "history ignored (text 'opened', not a list of text)"),
        ("history", ["opened", 3], "history ignored (a list, not a list of text)"),
    ],
)
def test_native_checkpoint_with_malformed_extras_opens_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object, note: str
) -> None:
    path = native_file(tmp_path, field, value)
    checkpoint = open_checkpoint(path)
    assert note in checkpoint.detail
    assert checkpoint.build_model().chain == ["fc1", "fc2"]
    assert note in run_ok(capsys, "analyze", str(path)).splitlines()[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [("architecture", None), ("architecture", DELETE), ("metadata", None), ("history", DELETE)],
)
def test_native_checkpoint_without_optional_fields_opens(
    tmp_path: Path, field: str, value: object
) -> None:
    checkpoint = open_checkpoint(native_file(tmp_path, field, value))
    assert checkpoint.format == "rmt-gui"
    assert "ignored" not in checkpoint.detail
    assert [info.name for info in checkpoint.layers()] == ["fc1.weight", "fc2.weight"]


# Altered archive bytes ---------------------------------------------------------------------


@pytest.mark.parametrize("member", ["data/0", "data.pkl"])
@pytest.mark.parametrize("command", ["analyze", "prune"])
def test_member_bytes_altered_after_writing_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], member: str, command: str
) -> None:
    good = saved(tmp_path / "good.pt", state())
    path = flip_byte(good, member, tmp_path / "bad.pt")
    argv = prune_args(path, tmp_path) if command == "prune" else [command, str(path)]
    line = error_line(capsys, *argv)
    assert "data of member " in line and f"/{member} is corrupt (CRC mismatch)" in line


def test_altered_native_checkpoint_and_torchscript_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    native = native_file(tmp_path, "metadata", {})
    scripted = export_model(mlp(), tmp_path / "model.ts", "torchscript")
    for good in (native, scripted):
        bad = flip_byte(good, "data/0", tmp_path / f"bad{good.suffix}")
        assert "is corrupt (CRC mismatch)" in error_line(capsys, "analyze", str(bad))


def test_archive_with_too_many_members_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch_files, "MEMBER_LIMIT", 8)
    path = saved(tmp_path / "model.pt", state())
    assert "far more than a model file has" in error_line(capsys, "analyze", str(path))


def test_compressed_members_expanding_too_far_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch_files, "EXPAND_LIMIT_BYTES", 1 << 16)
    path = saved(tmp_path / "model.pt", state())
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("model/padding", bytes(1 << 17), compress_type=zipfile.ZIP_DEFLATED)
    assert "compressed members would expand to" in error_line(capsys, "analyze", str(path))


# Undecodable file names -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zip", "legacy", "torchscript"])
def test_undecodable_file_name_opens_analyses_and_prunes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / UNDECODABLE
    with path.open("wb") as handle:
        if kind == "torchscript":
            handle.write(export_model(mlp(), tmp_path / "plain.ts", "torchscript").read_bytes())
        else:
            torch.save(state(), handle, _use_new_zipfile_serialization=kind == "zip")
    assert [info.name for info in open_checkpoint(path).layers()] == ["fc1.weight", "fc2.weight"]
    assert analysed(capsys, path) == ["fc1.weight", "fc2.weight"]
    assert torch.linalg.matrix_rank(pruned(capsys, path, tmp_path / "out.pt")["fc1.weight"]) == 2


# Pickles that would run code ----------------------------------------------------------------

HOW = ["zip", "zip-p4", "legacy", "legacy-p4", "raw-p0", "raw-p1", "raw-p2", "raw-p4", "raw-p5"]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("callable_name", HOSTILE)
def test_hostile_pickle_is_refused_naming_what_it_would_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], callable_name: str, how: str
) -> None:
    marker = tmp_path / "MARKER"
    payload = nested_payload(HOSTILE[callable_name](marker))
    path = save_hostile(tmp_path / "model.pt", payload, how)
    with pytest.raises(TrustRequiredError) as info:
        open_checkpoint(path)
    assert callable_name in info.value.globals
    assert info.value.can_rebuild
    line = error_line(capsys, "analyze", str(path))
    assert f"would import and call {callable_name}" in line and "--trust" in line
    assert not marker.exists()


@pytest.mark.parametrize("command", ["prune", "evaluate"])
def test_hostile_pickle_never_runs_under_prune_or_evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    marker = tmp_path / "MARKER"
    for name, hostile in HOSTILE.items():
        path = save_hostile(tmp_path / f"{name}.pt", {**state(), "hook": hostile(marker)}, "zip")
        argv = prune_args(path, tmp_path) if command == "prune" else [command, str(path)]
        assert name in error_line(capsys, *argv)
    assert not marker.exists()
    assert not (tmp_path / "out.pt").exists()


def test_pickled_module_lists_its_classes(tmp_path: Path) -> None:
    path = saved(tmp_path / "whole.pt", nn.Sequential(nn.Linear(784, 10)))
    with pytest.raises(TrustRequiredError) as info:
        open_checkpoint(path)
    assert "torch.nn.modules.linear.Linear" in info.value.globals
    assert "collections.OrderedDict" not in info.value.globals
    assert info.value.can_rebuild


class Mlp(nn.Module):
    """A model class that pretends to be defined in the script that saved it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)


@pytest.fixture
def main_script_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A pickled ``__main__.Mlp`` that also carries an ``os.system`` call; (file, marker)."""
    marker = tmp_path / "MARKER"
    monkeypatch.setattr(Mlp, "__module__", "__main__")
    monkeypatch.setattr(sys.modules["__main__"], "Mlp", Mlp, raising=False)
    model = Mlp()
    model.hook = SystemCall(marker)
    path = saved(tmp_path / "main.pt", model)
    monkeypatch.undo()
    return path, marker


def test_main_script_class_is_refused_saying_trust_would_not_help(
    main_script_model: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path, marker = main_script_model
    with pytest.raises(TrustRequiredError) as info:
        open_checkpoint(path)
    assert not info.value.can_rebuild
    assert "__main__.Mlp" in info.value.globals and "posix.system" in info.value.globals
    problem = info.value.problem
    assert problem.startswith(
        "the class 'Mlp' was defined in the script that saved it (__main__.Mlp), so it cannot "
        "be rebuilt even with --trust; save a state_dict or TorchScript"
    )
    assert "(it would also call posix.system)" in problem
    for argv in (["analyze", str(path)], ["analyze", str(path), "--trust"]):
        assert "cannot be rebuilt even with --trust" in error_line(capsys, *argv)
    assert not marker.exists()


def test_main_script_class_is_refused_before_unpickling_even_with_trust(
    main_script_model: tuple[Path, Path],
) -> None:
    path, marker = main_script_model
    with pytest.raises(FileError, match="cannot be rebuilt even with --trust") as info:
        open_checkpoint(path, trust=True)
    assert not isinstance(info.value, TrustRequiredError)
    assert not marker.exists()


def test_class_from_a_module_not_installed_cannot_be_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x02cnosuch_rmt_package.models\nNet\nq\x00)\x81q\x01.")
    with pytest.raises(TrustRequiredError, match="cannot be imported here") as info:
        open_checkpoint(path)
    assert info.value.globals == ("nosuch_rmt_package.models.Net",)
    assert not info.value.can_rebuild


def test_refusal_lists_code_runners_first_and_stays_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    imports = b"".join(f"cjson\nfunction{i}\n0".encode() for i in range(40))
    path = tmp_path / "many.pt"
    path.write_bytes(b"\x80\x02" + imports + b"cposix\nsystem\n0N.")
    with pytest.raises(TrustRequiredError) as info:
        open_checkpoint(path)
    assert info.value.globals[0] == "posix.system" and len(info.value.globals) == 41
    assert len(info.value.problem) <= PROBLEM_LIMIT
    line = error_line(capsys, "analyze", str(path))
    assert "call posix.system, json.function0, json.function1, json.function2 and 37 more. " in line
    assert line.endswith("Open it with --trust only if you trust its source")
    assert "…" not in line


def test_global_named_at_run_time_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "odd.pt"
    path.write_bytes(b"\x80\x04K\x01K\x02\x93)R.")
    with pytest.raises(TrustRequiredError) as info:
        open_checkpoint(path)
    assert info.value.globals == (UNRESOLVED,)
    assert info.value.can_rebuild


@pytest.mark.parametrize("kind", ["zip", "legacy"])
def test_pickle_too_long_to_read_safely_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / "long.pt"
    torch.save(
        {**state(), "log": list(range(300_000))}, path, _use_new_zipfile_serialization=kind == "zip"
    )
    assert "its pickled part is over 1 MB" in error_line(capsys, "analyze", str(path))


def test_scan_follows_the_memo_for_stack_global() -> None:
    data = pickle.dumps([os.system, os.getcwd], protocol=4)
    assert any(op.name == "BINGET" for op, _, _ in pickletools.genops(data))
    assert scan_bytes(data).globals == ("posix.system", "posix.getcwd")


def test_scan_follows_the_stack_not_the_last_strings() -> None:
    strings = b"".join(bytes([0x8C, len(s)]) + s for s in (b"os", b"system", b"json", b"dumps"))
    data = b"\x80\x04" + strings + b"00\x93)R."
    scan = scan_bytes(data)
    assert scan.globals == ("os.system",) and scan.complete


def test_scan_maps_python2_names_like_the_unpickler() -> None:
    data = pickle.dumps([eval, os.getcwd], protocol=0)
    assert b"__builtin__" in data
    assert scan_bytes(data).globals == ("builtins.eval", "posix.getcwd")


def test_scan_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x02cantigravity\nfly\nq\x00.")
    scan = scan_file(path)
    assert scan.unsafe() == ("antigravity.fly",) and scan.unbuildable() == ()
    with pytest.raises(TrustRequiredError, match=r"antigravity\.fly"):
        open_checkpoint(path)
    assert "antigravity" not in sys.modules
