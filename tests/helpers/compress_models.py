"""Briefly trained MLPs of any depth for the compression tests (the paper's optimiser)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rmt_gui.model.data import MnistSplit
from rmt_gui.model.tree import WeightTree, build_mlp


def trained_network(dims: Sequence[int], data: MnistSplit, epochs: int = 1) -> WeightTree:
    """An MLP ``dims`` trained ``epochs`` epochs on ``data`` (SGD 0.08, momentum 0.9, batch 128)."""
    model = build_mlp(dims, seed=0)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.08, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for batch in torch.randperm(len(data), generator=generator).split(128):
            optimiser.zero_grad()
            loss = torch.nn.functional.nll_loss(model(data.images[batch]), data.labels[batch])
            loss.backward()
            optimiser.step()
    return model.eval()
