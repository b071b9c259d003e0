"""Model files of every supported kind, written by the tests themselves (tiny MLPs and a CNN)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch
from torch import nn

from rmt_gui.model.jit import quiet_jit
from rmt_gui.model.tree import WeightTree, build_mlp

DIMS = (784, 32, 10)


def mlp(seed: int = 0) -> WeightTree:
    """The small MLP most tests use: 784 -> 32 -> 10, layers ``fc1``, ``fc2``."""
    return build_mlp(DIMS, seed=seed)


def state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A plain state dict of :func:`mlp`."""
    return {key: value.detach().clone() for key, value in mlp(seed).state_dict().items()}


class SmallCnn(nn.Module):
    """Conv 1->4 (3x3) then a linear read-out: conv kernels listed as ``(out, in*kh*kw)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 26 * 26, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for ``[N, 1, 28, 28]`` images."""
        return self.fc(torch.relu(self.conv(x)).flatten(1))


class PlainNet(nn.Module):
    """An importable module class, for trusted pickles of a whole model."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of flattened images."""
        return torch.log_softmax(self.fc2(torch.relu(self.fc1(x.flatten(1)))), dim=1)


def sequential() -> nn.Sequential:
    """``nn.Sequential(Linear, ReLU, Linear)``: saved keys ``0.*`` and ``2.*`` (not contiguous)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))


def save_torchscript(module: nn.Module, path: Path) -> Path:
    """``torch.jit.save(torch.jit.script(module))`` without the deprecation warning."""
    with quiet_jit():
        torch.jit.save(torch.jit.script(module), str(path))
    return path


def safetensors_bytes(header: dict, data: bytes, length: int | None = None) -> bytes:
    """A safetensors file from a header dict and raw data (``length`` may lie)."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def centroid_state(images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """A 784 -> 10 nearest-class-mean classifier as a state dict (far better than chance)."""
    flat = images.reshape(len(images), -1)
    means = torch.stack([flat[labels == c].mean(0) for c in range(10)])
    return {"fc.weight": means, "fc.bias": -0.5 * (means**2).sum(1)}


def trained_mlp(images: torch.Tensor, labels: torch.Tensor, hidden: int = 64) -> WeightTree:
    """784 -> hidden -> 10 trained briefly with the paper's optimiser (spiked spectra, ~90%)."""
    model = build_mlp((784, hidden, 10), seed=0)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.08, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    for _ in range(2):
        order = torch.randperm(len(labels), generator=generator)
        for batch in order.split(128):
            optimiser.zero_grad()
            loss = torch.nn.functional.nll_loss(model(images[batch]), labels[batch])
            loss.backward()
            optimiser.step()
    return model.eval()
