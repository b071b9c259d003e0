"""One rule for ``prune`` and ``train``: bad options, the output-width floor on every format, NaN.

Every file here is written by the test: a small ``nn.Sequential`` saved as a state dict,
TorchScript, safetensors, this project's format or a trusted pickle.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from rmt_gui.cli import main
from rmt_gui.model.export import export_model
from rmt_gui.model.opener import open_checkpoint
from rmt_gui.model.tree import tree_from_state_dict
from tests.helpers.model_files import PlainNet, save_torchscript, sequential


def one_line_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run ``argv``, expect exit 1 and exactly one ``rmt-gui: error:`` line; return it."""
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rmt-gui: error: "), captured.err
    assert captured.out == ""
    return lines[0].removeprefix("rmt-gui: error: ")


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    """A state dict of ``Sequential(784 -> 32 -> 10)``."""
    path = tmp_path / "net.pt"
    torch.save(sequential().state_dict(), path)
    return path


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--bema", "--keep-noise", "nan"], "--keep-noise must be in [0, 1], got nan"),
        (["--bema", "--keep-noise", "inf"], "--keep-noise must be in [0, 1], got inf"),
        (["--bema", "--keep-noise", "1e400"], "--keep-noise must be in [0, 1], got inf"),
        (["--bema", "--keep-noise", "-0.1"], "--keep-noise must be in [0, 1], got -0.1"),
        (["--bema", "--keep-noise", "1.5"], "--keep-noise must be in [0, 1], got 1.5"),
        (["--energy", "0"], "--energy must be in (0, 1], got 0"),
        (["--energy", "NaN"], "--energy must be in (0, 1], got nan"),
        (["--energy", "1.01"], "--energy must be in (0, 1], got 1.01"),
        (["--shrink", "nan"], "--shrink must be in [0, 1], got nan"),
        (["--shrink=-inf"], "--shrink must be in [0, 1], got -inf"),
        (["--shrink", "2"], "--shrink must be in [0, 1], got 2"),
        (["--rank", "0"], "--rank must be at least 1, got 0"),
        (["--rank", "-3"], "--rank must be at least 1, got -3"),
        (["--bema", "--min-rank", "0"], "--min-rank must be at least 1, got 0"),
        (["--gavish-donoho", "--min-rank", "-1"], "--min-rank must be at least 1, got -1"),
    ],
)
def test_bad_prune_options_give_one_line_before_any_file_is_read(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out.pt"
    missing = tmp_path / "not-read.pt"
    assert one_line_error(capsys, ["prune", str(missing), *options, "--out", str(out)]) == message
    assert not out.exists()


TRAIN = ["train", "--dims", "784,16,10", "--epochs", "1", "--data", "/nonexistent/mnist"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--alpha", "0.7"], "--alpha must be in [0, 0.5), got 0.7"),
        (["--alpha", "nan"], "--alpha must be in [0, 0.5), got nan"),
        (["--beta", "1"], "--beta must be in (0, 1), got 1.0"),
        (["--beta", "inf"], "--beta must be in (0, 1), got inf"),
        (["--shrink-factor", "nan"], "--shrink-factor must be in [0, 1], got nan"),
        (["--shrink-factor", "1.5"], "--shrink-factor must be in [0, 1], got 1.5"),
        (["--fit-threshold", "0"], "--fit-threshold must be a positive number, got 0"),
        (["--fit-threshold", "inf"], "--fit-threshold must be a positive number, got inf"),
        (["--min-rank", "0"], "--min-rank must be at least 1, got 0"),
        (["--keep-noise", "nan"], "noise fractions must be in [0, 1], got [nan]"),
        (
            ["--keep-noise-schedule", "linear:0:inf"],
            "noise fractions must be in [0, 1], got [0.0, inf]",
        ),
        (["--prune-every", "0"], "prune-every must be at least 1 epoch, got 0"),
    ],
)
def test_bad_train_options_fail_before_loading_data(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    assert one_line_error(capsys, [*TRAIN, *options, "--out", str(out)]) == message
    assert not out.exists()


def test_train_without_bad_options_reaches_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The same command with good options fails only on the (missing) data folder."""
    message = one_line_error(capsys, [*TRAIN, "--out", str(tmp_path / "run")])
    assert "MNIST not found" in message


def as_state_dict(net: nn.Module, path: Path) -> Path:
    torch.save(net.state_dict(), path)
    return path


def as_safetensors(net: nn.Module, path: Path) -> Path:
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def as_rmt_gui(net: nn.Module, path: Path) -> Path:
    return export_model(tree_from_state_dict(net.state_dict()), path, "rmt-gui")


FORMATS: dict[str, Callable[[nn.Module, Path], Path]] = {
    "state-dict": as_state_dict,
    "torchscript": save_torchscript,
    "safetensors": as_safetensors,
    "rmt-gui": as_rmt_gui,
}


def prune_rows(capsys: pytest.CaptureFixture, *argv: str) -> list[dict]:
    """Run ``prune ... --json`` successfully and return its layer rows."""
    assert main(["prune", *argv, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)["layers"]


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_the_output_width_floor_holds_on_every_format(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    net = sequential()
    source = FORMATS[kind](net, tmp_path / f"net.{kind}")
    reference = as_state_dict(net, tmp_path / "reference.pt")
    rows = prune_rows(capsys, str(source), "--bema", "--out", str(tmp_path / "out"))
    expected = prune_rows(capsys, str(reference), "--bema", "--out", str(tmp_path / "ref.out"))
    assert [(r["name"], r["rank_after"]) for r in rows] == [
        (r["name"], r["rank_after"]) for r in expected
    ]
    assert rows[-1]["shape"] == [10, 32] and rows[-1]["rank_after"] == 10
    assert rows[0]["rank_after"] >= 10


def test_a_trusted_pickled_module_keeps_its_output_width(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    torch.manual_seed(0)
    path = tmp_path / "whole.pt"
    torch.save(PlainNet(), path)
    rows = prune_rows(capsys, str(path), "--bema", "--trust", "--out", str(tmp_path / "o.pt"))
    assert rows[-1]["name"] == "fc2.weight" and rows[-1]["rank_after"] == 10


def test_a_scripted_output_layer_is_not_cut_below_ten(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The reported case: ``prune scripted.pt --bema`` used to cut the 10-wide output layer."""
    source = save_torchscript(sequential(), tmp_path / "scripted.pt")
    out = tmp_path / "pruned.pt"
    rows = prune_rows(capsys, str(source), "--bema", "--out", str(out))
    assert rows[-1]["rank_after"] == 10
    pruned = open_checkpoint(out)
    assert pruned.format == "torchscript"
    kept = torch.linalg.matrix_rank(torch.tensor(pruned.read("2.weight")), rtol=1e-5)
    assert int(kept) == 10


def nan_mlp(bad: float) -> nn.Sequential:
    """``Sequential(784 -> 32 -> 16 -> 10)`` with one bad entry in its middle weight ``2``."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10)
    )
    with torch.no_grad():
        net[2].weight[4, 7] = bad
    return net


@pytest.mark.parametrize(("bad", "word"), [(float("nan"), "NaN"), (float("inf"), "inf")])
@pytest.mark.parametrize("kind", ["state-dict", "torchscript"])
def test_a_layer_with_bad_weights_is_left_out_with_a_note(
    bad: float, word: str, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source = FORMATS[kind](nan_mlp(bad), tmp_path / "bad.pt")
    out = tmp_path / "pruned.rmt"
    assert main(["prune", str(source), "--rank", "4", "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    note = f"rmt-gui: note: {source}: 2.weight: {word} weights, left as they are"
    assert captured.err.splitlines() == [note]
    first, middle, last = json.loads(captured.out)["layers"]
    assert middle["skipped"] == f"{word} weights, left as they are"
    assert middle["rank_after"] is None and middle["params_after"] == 16 * 32 + 16
    assert first["rank_after"] == last["rank_after"] == 4
    pruned = open_checkpoint(out)
    kept = torch.linalg.matrix_rank(torch.tensor(pruned.read("0.weight")), rtol=1e-5)
    assert int(kept) == 4
    saved = torch.tensor(pruned.read("2.weight"))
    assert torch.equal(torch.isfinite(saved), torch.isfinite(nan_mlp(bad)[2].weight))


def test_bema_with_a_nan_layer_prints_the_note_and_prunes_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source = as_state_dict(nan_mlp(float("nan")), tmp_path / "bad.pt")
    out = tmp_path / "pruned.pt"
    assert main(["prune", str(source), "--bema", "--min-rank", "1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == f"rmt-gui: note: {source}: 2.weight: NaN weights, left as they are\n"
    lines = captured.out.splitlines()
    assert "2.weight" in lines[2] and "skipped: NaN weights, left as they are" in lines[2]
    assert "0.weight" in lines[1] and "rank 32 -> " in lines[1]
    assert "internal error" not in captured.err
