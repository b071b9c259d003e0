"""Where the repository and the shared read-only data (reference cases, MNIST) live."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
SHARED = Path(os.environ.get("RMT_GUI_SHARED", REPO.parent / "shared"))
CASES_DIR = SHARED / "cases"
DATA_DIR = SHARED / "data"
