"""``rmt-gui compress``: the budget holds in the file; JSON keys, BEMA ranks, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rmt_gui.cli import main
from rmt_gui.model.data import load_mnist
from tests.helpers.cli_errors import error_line
from tests.helpers.compress_models import trained_network
from tests.helpers.paths import DATA_DIR

FAST = ("--data", str(DATA_DIR), "--validation", "500", "--calibration", "256")
KEYS = {
    "file", "out", "method", "target", "finetune_steps", "calibration", "params_before",
    "params_after", "layers", "validation", "test", "export",
}  # fmt: skip
ROW_KEYS = {"name", "shape", "rank", "n_signal", "factorized", "params_before", "params_after"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dict of a 784-64-10 MLP trained for two epochs on 4,000 images."""
    path = tmp_path_factory.mktemp("compress") / "trained.pt"
    model = trained_network((784, 64, 10), load_mnist(DATA_DIR, train=True).head(4000), 2)
    torch.save(model.state_dict(), path)
    return path


def compress_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["compress", *args, *FAST, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


def file_params(path: Path) -> int:
    """Entries of every tensor stored in an rmt-gui file, counted from the file itself."""
    payload = torch.load(path, weights_only=True)
    return sum(t.numel() for t in payload["state_dict"].values())


def test_budget_holds_in_the_file_and_json_reports_it(trained, tmp_path, capsys) -> None:
    out = tmp_path / "small.pt"
    doc = compress_json(capsys, str(trained), "--out", str(out), "--target-params", "0.08",
                        "--finetune-steps", "10")  # fmt: skip
    assert set(doc) == KEYS and all(set(row) == ROW_KEYS for row in doc["layers"])
    assert file_params(out) == doc["params_after"] <= 0.08 * doc["params_before"]
    assert set(doc["test"]) == {"count", "accuracy_before", "accuracy_after"}
    assert set(doc["validation"]) == set(doc["test"]) | {"images", "seen_in_training"}
    assert doc["test"]["count"] == 10_000 and doc["validation"]["count"] == 500
    assert main(["evaluate", str(out), "--data", str(DATA_DIR), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["accuracy"] == doc["test"]["accuracy_after"]
    assert evaluated["params"] == doc["params_after"]


def test_refuses_to_overwrite_silently(trained, tmp_path, capsys) -> None:
    out = tmp_path / "taken.pt"
    out.write_bytes(b"keep me")
    line = error_line(capsys, "compress", str(trained), "--out", str(out), "--target-params",
                      "0.2", "--finetune-steps", "0", *FAST)  # fmt: skip
    assert "exists" in line and out.read_bytes() == b"keep me"


def test_bema_with_plain_svd_keeps_prunes_ranks(trained, tmp_path, capsys) -> None:
    doc = compress_json(capsys, str(trained), "--out", str(tmp_path / "b.pt"), "--target-params",
                        "bema", "--method", "svd", "--finetune-steps", "0")  # fmt: skip
    assert main(["prune", str(trained), "--bema", "--factorize", "--out", str(tmp_path / "p.pt"),
                 "--json"]) == 0  # fmt: skip
    pruned = json.loads(capsys.readouterr().out)
    expected = [row["rank_after"] if row["factorized"] else None for row in pruned["layers"]]
    assert [row["rank"] for row in doc["layers"]] == expected
    assert [row["n_signal"] for row in doc["layers"]] == [r["n_signal"] for r in pruned["layers"]]


def test_text_report_names_ranks_and_both_accuracies(trained, tmp_path, capsys) -> None:
    args = ["compress", str(trained), "--out", str(tmp_path / "t.pt"), "--max-drop", "3",
            "--finetune-steps", "0", "--layer", "fc1.weight", *FAST]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "BEMA n_signal" in text and "validation accuracy" in text and "test accuracy" in text
    assert "fc2.weight" not in text


@pytest.mark.parametrize(
    ("args", "part"),
    [
        (("--target-params", "1.5"), "--target-params must be in (0, 1]"),
        (("--target-params", "half"), "--target-params must be a fraction"),
        (("--target-params", "0.000001"), "below the smallest model"),
        (("--max-drop", "-1"), "--max-drop must be at least 0"),
        (("--target-params", "0.1", "--finetune-steps", "x"), "--finetune-steps must be a whole"),
        (("--target-params", "0.1", "--layer", "fc9.weight"), "no layer named fc9.weight"),
    ],
)
def test_bad_settings_fail_in_one_line(trained, tmp_path, capsys, args, part) -> None:
    out = str(tmp_path / "x.pt")
    line = error_line(capsys, "compress", str(trained), "--out", out, "--finetune-steps", "0",
                      *args, *FAST)  # fmt: skip
    assert part in line
    assert not (tmp_path / "x.pt").exists()


def test_missing_data_fails_in_one_line(trained, tmp_path, capsys) -> None:
    line = error_line(capsys, "compress", str(trained), "--out", str(tmp_path / "x.pt"),
                      "--target-params", "0.1", "--data", str(tmp_path))  # fmt: skip
    assert "MNIST not found" in line
