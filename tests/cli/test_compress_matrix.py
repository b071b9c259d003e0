"""``rmt-gui compress`` over depths, input formats, budgets, output formats and fine-tune, each
output checked as a user would: its tensors counted from the file, ``rmt-gui evaluate`` (or
onnxruntime for ONNX) giving the test accuracy compress reported; odd inputs fail in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from rmt_gui.cli import main
from rmt_gui.model.data import load_mnist
from rmt_gui.model.export import export_model
from rmt_gui.model.export_formats import FORMAT_FILES, FORMATS
from tests.helpers.cli_errors import error_line
from tests.helpers.compress_files import file_params, onnx_accuracy
from tests.helpers.compress_models import trained_network
from tests.helpers.model_files import SmallCnn, save_torchscript
from tests.helpers.paths import DATA_DIR

FAST = ("--data", str(DATA_DIR), "--validation", "500", "--calibration", "256")
MODELS = ("784-64-10", "784-128-64-10", "784-96-64-32-10", "state-dict", "safetensors")
TARGETS = (
    ("--target-params", "0.03"), ("--target-params", "0.1"), ("--target-params", "0.37"),
    ("--target-params", "0.9"), ("--target-params", "bema"), ("--max-drop", "0.5"),
    ("--max-drop", "5"),
)  # fmt: skip
KEYS = {
    "file", "out", "method", "target", "finetune_steps", "calibration", "params_before",
    "params_after", "layers", "validation", "test", "export",
}  # fmt: skip
VALIDATION_KEYS = {
    "count", "images", "seen_in_training", "accuracy_before", "accuracy_after",
}  # fmt: skip
POINT = 1e-4
"""0.01 accuracy points, as a fraction."""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three depths trained two epochs on 4,000 images (rmt-gui files), and the shallowest also
    as a plain state dict ``.pt`` and as safetensors."""
    folder = tmp_path_factory.mktemp("matrix")
    data = load_mnist(DATA_DIR, train=True).head(4000)
    paths = {}
    for name in MODELS[:3]:
        model = trained_network(tuple(int(d) for d in name.split("-")), data, 2)
        paths[name] = export_model(model, folder / f"{name}.pt")
        if name == MODELS[0]:
            state = {key: value.contiguous() for key, value in model.state_dict().items()}
            torch.save(state, folder / "plain.pt")
            save_file(state, folder / "plain.safetensors")
            paths["state-dict"] = folder / "plain.pt"
            paths["safetensors"] = folder / "plain.safetensors"
    return paths


def cases() -> list:
    """Every model with every target; the output format and fine-tune rotate so that every
    format meets every model, and every (format, fine-tune) pair occurs (ONNX ones are slow)."""
    found = []
    for m, model in enumerate(MODELS):
        for t, target in enumerate(TARGETS):
            fmt, steps = FORMATS[(m + t) % len(FORMATS)], (0, 10)[(m + t) % 2]
            marks = [pytest.mark.slow] if fmt == "onnx" else []
            name = f"{model}-{'='.join(target)}-{fmt}-ft{steps}"
            found.append(pytest.param(model, target, fmt, steps, marks=marks, id=name))
    return found


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    """Run the CLI with ``--json``; its exit status 0, nothing on stderr, the document."""
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


@pytest.mark.parametrize(("model", "target", "fmt", "steps"), cases())
def test_compressed_file_holds_the_budget_and_evaluates_as_reported(
    models, tmp_path, capsys, model, target, fmt, steps
) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    out = tmp_path / f"small{FORMAT_FILES[fmt][1]}"
    doc = run_json(capsys, "compress", str(models[model]), "--out", str(out), *target,
                   "--format", fmt, "--finetune-steps", str(steps), *FAST)  # fmt: skip
    assert set(doc) == KEYS and set(doc["validation"]) == VALIDATION_KEYS
    assert doc["validation"]["seen_in_training"] == "unknown"
    counted = file_params(out)
    assert counted == doc["params_after"]
    option, value = target
    limit = float(value) if option == "--target-params" and value != "bema" else 1.0
    assert counted <= limit * doc["params_before"]
    validation = doc["validation"]
    if option == "--max-drop":
        assert validation["accuracy_after"] >= validation["accuracy_before"] - float(value) / 100
    assert doc["finetune_steps"] in (0, steps)
    reported = doc["test"]["accuracy_after"]
    if fmt == "onnx":
        assert onnx_accuracy(out, load_mnist(DATA_DIR, train=False)) == pytest.approx(
            reported, abs=POINT
        )
        return
    evaluated = run_json(capsys, "evaluate", str(out), "--data", str(DATA_DIR))
    assert evaluated["accuracy"] == pytest.approx(reported, abs=POINT)
    assert evaluated["params"] == counted


def test_full_budget_keeps_the_original_untuned(models, tmp_path, capsys) -> None:
    doc = run_json(capsys, "compress", str(models["state-dict"]), "--out", str(tmp_path / "a.pt"),
                   "--target-params", "1", "--finetune-steps", "10", *FAST)  # fmt: skip
    assert doc["params_after"] == doc["params_before"]
    assert [row["rank"] for row in doc["layers"]] == [None, None]
    assert doc["finetune_steps"] == 0
    assert doc["test"]["accuracy_after"] == doc["test"]["accuracy_before"]


@pytest.fixture(scope="module")
def odd_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A TorchScript CNN with no linear layer, a conv-only state dict, a TorchScript MLP."""
    folder = tmp_path_factory.mktemp("odd")
    torch.manual_seed(0)
    conv = torch.nn.Sequential(
        torch.nn.Conv2d(1, 10, 28), torch.nn.Flatten(), torch.nn.LogSoftmax(1)
    )
    torch.save(conv.state_dict(), folder / "conv.pt")
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 10))  # fmt: skip
    return {
        "conv-script": save_torchscript(conv, folder / "conv.ts"),
        "conv-state": folder / "conv.pt",
        "mlp-script": save_torchscript(mlp, folder / "mlp.ts"),
        "cnn-script": save_torchscript(SmallCnn(), folder / "cnn.ts"),
    }


@pytest.mark.parametrize(
    ("args", "part"),
    [
        (("--target-params", "0"), "--target-params must be in (0, 1]"),
        (("--target-params", "-0.5"), "--target-params must be in (0, 1]"),
        (("--target-params", "1.01"), "--target-params must be in (0, 1]"),
        (("--target-params", "nan"), "--target-params must be in (0, 1]"),
        (("--target-params", "inf"), "--target-params must be in (0, 1]"),
        (("--target-params", "0.005"), "below the smallest model"),
        (("--max-drop", "nan"), "--max-drop must be a finite number"),
        (("--target-params", "0.1", "--layer", "fc1.bias"), "no layer named fc1.bias"),
        (("--target-params", "0.1", "--calibration", "0"), "--calibration must be at least 1"),
        (("--target-params", "0.1", "--validation", "0"), "--validation must be at least 1"),
        (("--target-params", "0.1", "--validation", "60000"), "leave none beside 60000"),
    ],
)
def test_odd_settings_fail_in_one_line(models, tmp_path, capsys, args, part) -> None:
    line = error_line(capsys, "compress", str(models["784-128-64-10"]), "--out",
                      str(tmp_path / "x.pt"), "--finetune-steps", "0", *FAST, *args)  # fmt: skip
    assert part in line
    assert not (tmp_path / "x.pt").exists()


def test_smallest_budget_message_names_the_smallest_fraction(models, tmp_path, capsys) -> None:
    line = error_line(capsys, "compress", str(models["784-64-10"]), "--out", str(tmp_path / "x.pt"),
                      "--target-params", "0.01", *FAST)  # fmt: skip
    assert "996 parameters with every layer at rank 1, 0.01957 of them" in line


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("conv-script", "no dense linear layer to compress"),
        ("conv-state", "cannot rebuild this architecture"),
        ("mlp-script", "a TorchScript model cannot be factorised"),
        ("cnn-script", "a TorchScript model cannot be factorised"),
    ],
)
def test_models_that_cannot_be_compressed_fail_in_one_line(
    odd_models, tmp_path, capsys, name, part
) -> None:
    line = error_line(capsys, "compress", str(odd_models[name]), "--out", str(tmp_path / "x.pt"),
                      "--target-params", "0.5", "--finetune-steps", "0", *FAST)  # fmt: skip
    assert part in line and odd_models[name].name in line


def test_empty_data_folder_fails_in_one_line(models, tmp_path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    line = error_line(capsys, "compress", str(models["784-64-10"]), "--out", str(tmp_path / "x.pt"),
                      "--target-params", "0.1", "--data", str(empty))  # fmt: skip
    assert "MNIST not found" in line and str(empty) in line


def test_help_says_the_validation_images_may_have_been_trained_on(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["compress", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the last --validation MNIST training images: a model trained on them" in text


def test_compressing_again_names_the_pairs_kept_as_they_are(models, tmp_path, capsys) -> None:
    first = tmp_path / "first.pt"
    assert main(["compress", str(models["784-128-64-10"]), "--out", str(first), "--target-params",
                 "0.1", "--finetune-steps", "0", "--layer", "fc1.weight", *FAST]) == 0  # fmt: skip
    capsys.readouterr()
    line = error_line(capsys, "compress", str(first), "--out", str(tmp_path / "again.pt"),
                      "--target-params", "0.01", *FAST)  # fmt: skip
    assert "below the smallest model" in line and "the factor pairs fc1 stay as they are" in line
    line = error_line(capsys, "compress", str(first), "--out", str(tmp_path / "again.pt"),
                      "--target-params", "0.5", "--layer", "fc1.0.weight", *FAST)  # fmt: skip
    assert "fc1.0.weight: not a dense linear layer" in line
    assert "compressible: fc2.weight, fc3.weight" in line


def test_a_fully_factorised_model_fails_in_one_line(models, tmp_path, capsys) -> None:
    first = tmp_path / "first.pt"
    doc = run_json(capsys, "compress", str(models["784-64-10"]), "--out", str(first),
                   "--target-params", "0.1", "--finetune-steps", "0", *FAST)  # fmt: skip
    assert all(row["factorized"] for row in doc["layers"])
    line = error_line(capsys, "compress", str(first), "--out", str(tmp_path / "again.pt"),
                      "--target-params", "0.5", *FAST)  # fmt: skip
    assert "every linear layer is already a factor pair (fc1, fc2)" in line
