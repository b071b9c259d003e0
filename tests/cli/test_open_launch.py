"""``rmt-gui open`` stays light: a launch that hands its files to the running app loads neither
scipy nor torch nor the numeric commands (their import took 4–13 s on the busy test machine)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rmt_gui.cli import build_parser

HEAVY = ("scipy", "torch", "rmt_gui.cli.analyze", "rmt_gui.cli.train", "rmt_gui.model.analysis")


def test_open_parses_without_importing_the_numeric_commands() -> None:
    code = (
        "import sys; import rmt_gui.cli.open as command; from rmt_gui.cli import main; "
        "command.launch = lambda files, new_window: 0; status = main(['open', 'a.pt']); "
        f"print(status, sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 []"


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["--help"], ("analyze", "prune", "compress", "train", "open")),
        (["analyze", "-h"], ("--device",)),
    ],
)
def test_every_command_is_still_listed_and_parsed(argv: list[str], shown: tuple, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(argv)
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert all(word in text for word in shown)
