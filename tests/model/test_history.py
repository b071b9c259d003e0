"""Operation history: undo, redo, jump, and a new operation dropping the redo branch."""

from __future__ import annotations

import pytest
import torch

from rmt_gui.model.history import History
from rmt_gui.model.surgery import parameter_count, truncate
from tests.helpers.model_files import mlp


def rank_of(model: torch.nn.Module) -> int:
    weight = model.state_dict().get("fc1.weight")
    if weight is None:
        return int(model.state_dict()["fc1.0.weight"].shape[0])
    return int(torch.linalg.matrix_rank(weight, rtol=1e-5))


def to_rank(k: int, factorize: str = "never"):
    def operation(model: torch.nn.Module):
        new, change = truncate(model, "fc1.weight", k, factorize)
        return new, [change]

    return operation


def test_undo_redo_and_jump() -> None:
    original = mlp()
    history = History(original)
    assert not history.can_undo and not history.can_redo and not history.modified
    first = history.apply("rank 10", to_rank(10))
    history.apply("rank 3, factorised", to_rank(3, "always"), rule="rank")
    assert history.cursor == 2 and history.modified
    assert history.current.options == {"rule": "rank"}
    assert history.current.params == parameter_count(history.model) == 3 * (784 + 32) + 32 + 330
    assert first.changes[0].rank_after == 10
    assert [rank_of(step.model) for step in history.steps] == [32, 10, 3]
    assert history.undo().description == "rank 10"
    assert rank_of(history.model) == 10
    assert history.undo().model is original
    with pytest.raises(IndexError):
        history.undo()
    assert history.redo().description == "rank 10"
    assert history.jump(2).description == "rank 3, factorised"
    assert not history.can_redo
    with pytest.raises(IndexError):
        history.redo()
    with pytest.raises(IndexError):
        history.jump(3)
    assert history.jump(0).model is original
    assert rank_of(original) == 32


def test_new_operation_after_undo_drops_the_redo_branch() -> None:
    history = History(mlp())
    history.apply("rank 10", to_rank(10))
    history.apply("rank 5", to_rank(5))
    history.undo()
    history.undo()
    history.apply("rank 20", to_rank(20))
    assert [step.description for step in history.steps] == ["opened", "rank 20"]
    assert not history.can_redo
    assert rank_of(history.model) == 20


def test_failed_operation_leaves_history_unchanged() -> None:
    history = History(mlp())
    with pytest.raises(Exception, match="rank"):
        history.apply("too big", to_rank(99))
    assert len(history.steps) == 1 and history.cursor == 0
