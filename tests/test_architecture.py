"""Layering rules: the math core is numpy/scipy only, the core never touches Qt."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([exe], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "banned"),
    [
        ("rmt_gui.spectral", ("torch", "PySide6", "pyqtgraph")),
        ("rmt_gui.cli", ("torch", "PySide6", "pyqtgraph")),
        ("rmt_gui.model.opener", ("PySide6", "pyqtgraph")),
    ],
)
def test_modules_load_without_heavy_imports(module: str, banned: tuple[str, ...]) -> None:
    code = f"import sys, {module}; print(sorted(m for m in {banned!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
