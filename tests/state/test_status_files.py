"""Status lines that expire, save folders outside the installation, readable format names."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from torch import nn

from rmt_gui.state.document import Document
from rmt_gui.state.events import INFO_SECONDS, Status
from rmt_gui.state.file_labels import FORMAT_NAMES, file_description, format_name
from rmt_gui.state.save_folder import INSTALLED, RESOURCES, inside, save_folder


def test_information_lines_expire_and_errors_stay() -> None:
    assert Status("Exported").lifetime == INFO_SECONDS
    assert Status("Export failed", error=True).lifetime is None
    assert Status("").lifetime is None


def test_starting_work_clears_an_error_but_not_a_note_nor_progress() -> None:
    checkpoint = SimpleNamespace(path=Path("/models/net.pt"), history=[], detail="")
    layer = SimpleNamespace(name="weight", shape=(3, 4), params=12, factor_group=None)
    opened = SimpleNamespace(
        checkpoint=checkpoint, not_runnable="", model=nn.Linear(4, 3), layers=(layer,)
    )
    doc = Document(opened)
    doc.post_status("net.pt: pruning failed", True)
    doc.set_busy("Exporting…")
    assert doc.status == Status("")
    doc.post_status("Export failed: disk full", True)
    doc.set_busy("Exporting…", 1, 2)
    assert doc.status.error
    doc.set_busy("")
    doc.post_status("Exported")
    doc.set_busy("Rendering report…", 0, 3)
    assert doc.status == Status("Exported")


def test_the_last_chosen_folder_comes_first(tmp_path: Path) -> None:
    last, files, home = tmp_path / "exports", tmp_path / "models", tmp_path / "home"
    for folder in (last, files, home):
        folder.mkdir()
    source = files / "model.pt"
    assert save_folder(last, source, home, installed=()) == last
    assert save_folder(None, source, home, installed=()) == files
    assert save_folder(tmp_path / "gone", source, home, installed=()) == files


def test_a_file_of_the_installation_saves_to_home_instead(tmp_path: Path) -> None:
    installed, home = tmp_path / "site" / "resources", tmp_path / "home"
    installed.mkdir(parents=True)
    home.mkdir()
    bundled = installed / "default_model.pt"
    assert save_folder(None, bundled, home, installed=(installed,)) == home
    assert save_folder(installed, bundled, home, installed=(installed,)) == home
    assert RESOURCES in INSTALLED and inside(RESOURCES / "default_model.pt", INSTALLED)
    assert not inside(tmp_path, INSTALLED)


@pytest.mark.parametrize(
    ("fmt", "detail", "shown"),
    [
        (
            "rmt-gui",
            "rmt-gui checkpoint, MLP, 1 history step",
            "rmt-gui checkpoint, MLP, 1 history step",
        ),
        ("state-dict", "4 tensors", "PyTorch state dict, 4 tensors"),
        ("torchscript", "TorchScript archive", "TorchScript archive"),
        ("safetensors", "", "safetensors"),
        ("odd-format", "x", "odd-format, x"),
    ],
)
def test_formats_read_as_names_never_twice(fmt: str, detail: str, shown: str) -> None:
    assert file_description(fmt, detail) == shown


def test_every_export_format_has_a_name() -> None:
    assert format_name("rmt-gui") == "rmt-gui checkpoint"
    assert all(name and name != tag for tag, name in FORMAT_NAMES.items() if tag != "safetensors")
