"""Test-wide settings: one BLAS thread (2-core machines), headless Qt, shared data paths."""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.helpers.paths import CASES_DIR, DATA_DIR  # noqa: E402


@pytest.fixture(scope="session")
def cases_dir() -> Path:
    """Folder of the public reference matrices (``../shared/cases``)."""
    if not (CASES_DIR / "cases.json").exists():
        pytest.fail(f"reference cases not found in {CASES_DIR}")
    return CASES_DIR


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """MNIST root in torchvision's layout (``../shared/data``)."""
    if not (DATA_DIR / "MNIST" / "raw").exists():
        pytest.fail(f"MNIST not found under {DATA_DIR}")
    return DATA_DIR
