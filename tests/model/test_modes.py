"""Evaluation mode for a block, the module's own mode given back after it."""

from __future__ import annotations

import pytest
from torch import nn

from rmt_gui.model.modes import evaluation_mode


@pytest.mark.parametrize("training", [True, False])
def test_the_mode_comes_back_after_the_block_and_after_an_error(training: bool) -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).train(training)
    with evaluation_mode(model) as inside:
        assert inside is model and not model.training and not model[1].training
    assert model.training is training and model[1].training is training
    with pytest.raises(RuntimeError), evaluation_mode(model):
        raise RuntimeError("a failing forward")
    assert model.training is training
