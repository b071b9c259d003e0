"""MNIST as two preloaded tensors per split, read once with torchvision and cached in memory.

Images are float32 ``[N, 1, 28, 28]`` with pixels scaled to ``[0, 1]`` (no normalisation, as in
the paper); labels are int64 ``[N]``. The data root is, in order: an explicit folder, the
``RMT_GUI_DATA`` environment variable, or a per-user cache folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from rmt_gui.errors import FileError
from rmt_gui.user_dirs import user_folder

RAW_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class MnistSplit:
    """One split of MNIST as tensors: ``images`` in ``[0, 1]`` and integer ``labels``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def head(self, count: int | None) -> MnistSplit:
        """The first ``count`` examples (all when ``None``)."""
        if count is None or count >= len(self):
            return self
        return MnistSplit(self.images[:count], self.labels[:count])


def user_cache_dir() -> Path:
    """Per-user cache folder for downloaded data (XDG on Linux, the usual places elsewhere)."""
    return user_folder("cache") / "data"


def resolve_data_root(explicit: str | Path | None = None) -> Path:
    """The MNIST root: ``explicit``, else ``$RMT_GUI_DATA``, else :func:`user_cache_dir`."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("RMT_GUI_DATA")
    return Path(env).expanduser() if env else user_cache_dir()


def has_mnist(root: Path) -> bool:
    """Whether ``root/MNIST/raw`` holds the four uncompressed MNIST files."""
    raw = Path(root) / "MNIST" / "raw"
    return all((raw / name).is_file() for names in RAW_FILES.values() for name in names)


@lru_cache(maxsize=4)
def _load(root: Path, train: bool) -> MnistSplit:
    """Read one split with torchvision (no download) and scale it once."""
    from torchvision.datasets import MNIST

    try:
        dataset = MNIST(str(root), train=train, download=False)
    except (RuntimeError, OSError, ValueError, AssertionError) as exc:  # torchvision asserts
        raise FileError(root, f"MNIST files are unreadable ({exc or type(exc).__name__})") from exc
    images = dataset.data.to(torch.float32).div_(255.0).unsqueeze(1)
    return MnistSplit(images, dataset.targets.to(torch.int64))


def download_mnist(root: Path) -> None:
    """Download MNIST into ``root`` with torchvision; a clear :class:`FileError` when offline."""
    from torchvision.datasets import MNIST

    try:
        root.mkdir(parents=True, exist_ok=True)
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    except (RuntimeError, OSError, ValueError) as exc:
        raise FileError(
            root, f"could not download MNIST (offline? {exc}); put MNIST/raw/ there or pass --data"
        ) from exc


def load_mnist(
    root: str | Path | None = None, train: bool = False, download: bool = False
) -> MnistSplit:
    """One MNIST split from ``root`` (resolved as above); download first only if asked."""
    folder = resolve_data_root(root).resolve()
    if not has_mnist(folder):
        if not download:
            raise FileError(
                folder,
                "MNIST not found (expected MNIST/raw/ with the four idx files); "
                "pass --data DIR, set RMT_GUI_DATA, or allow the download",
            )
        download_mnist(folder)
    return _load(folder, train)
