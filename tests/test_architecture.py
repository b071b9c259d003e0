"""Layering rules: the math core is numpy/scipy only, the core never touches Qt, test modules
share helpers only through ``tests/helpers``."""

import ast
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


def foreign_test_imports(path: Path, tests_root: Path) -> list[str]:
    """Imports in ``path`` of test code other than ``tests.helpers`` (absolute or relative):
    helpers shared between test modules live in ``tests/helpers``, fixtures in conftest files."""
    package = ("tests", *path.relative_to(tests_root).parent.parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            names = [".".join((*base, *([node.module] if node.module else [])))]
        else:
            continue
        found += [
            f"{path.name}:{node.lineno} imports {name}"
            for name in names
            if name.split(".")[0] == "tests" and name.split(".")[:2] != ["tests", "helpers"]
        ]
    return found


def test_tests_import_helpers_only_from_tests_helpers() -> None:
    tests_root = REPO / "tests"
    problems = [
        problem
        for path in sorted(tests_root.rglob("*.py"))
        for problem in foreign_test_imports(path, tests_root)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("from tests.ui.test_open import message_box", True),
        ("from tests.conftest import DATA_DIR", True),
        ("from .conftest import WAIT_MS", True),
        ("from . import test_open", True),
        ("import tests.ui.test_train", True),
        ("def f():\n    from tests.model.files import mlp", True),
        ("from tests.helpers.paths import DATA_DIR", False),
        ("from ..helpers.model_files import mlp", False),
        ("import numpy", False),
    ],
)
def test_foreign_test_imports_are_found(tmp_path: Path, source: str, flagged: bool) -> None:
    module = tmp_path / "ui" / "test_example.py"
    module.parent.mkdir()
    module.write_text(source + "\n", encoding="utf-8")
    assert bool(foreign_test_imports(module, tmp_path)) is flagged
