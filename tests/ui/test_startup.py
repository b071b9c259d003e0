"""Fast start: the UI modules load without torch or scipy; the CLI routes to the app."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rmt_gui.cli.open as open_command
from rmt_gui.cli import main


def test_window_modules_do_not_import_heavy_libraries() -> None:
    code = (
        "import sys, rmt_gui.ui.app, rmt_gui.ui.main_window; "
        "print(sorted(m for m in ('torch', 'scipy', 'rmt_gui.model.history') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("argv", "files"), [([], []), (["open", "a.pt", "b.pt"], ["a.pt", "b.pt"])]
)
def test_cli_launches_the_app(monkeypatch, argv: list[str], files: list[str]) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(open_command, "launch", lambda given, *_: calls.append(given) or 0)
    assert main(argv) == 0
    assert calls == [files]


def test_window_opens_the_default_model_when_given(qtbot, settings, model_files) -> None:
    from rmt_gui.ui.main_window import MainWindow
    from tests.helpers.app_window import WAIT_MS

    win = MainWindow(settings, default_model=model_files["small"])
    win.show()
    assert win.tabs.count() == 0
    win.start()
    view = win.tabs.currentWidget()
    qtbot.waitUntil(lambda: view.document is not None, timeout=WAIT_MS)
    assert view.path == model_files["small"]
    view.shutdown()
    assert view.runner.wait(60)
    win.close()
    assert settings.bytes("geometry") is not None
    again = MainWindow(settings)
    assert again.settings.recent_files()[0] == model_files["small"].resolve()
    again.deleteLater()
    win.deleteLater()
