"""Undo/redo history of model states: each step is an immutable model plus what made it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from rmt_gui.model.surgery import LayerChange, parameter_count


@dataclass
class Step:
    """One state of the model: the operation that produced it and, once run, its evaluation."""

    description: str
    model: nn.Module
    changes: tuple[LayerChange, ...] = ()
    params: int = 0
    evaluation: Any = None
    options: dict[str, Any] = field(default_factory=dict)


class History:
    """A linear history with a cursor; applying after an undo drops the redo branch."""

    def __init__(self, model: nn.Module, description: str = "opened") -> None:
        self._steps = [Step(description, model, params=parameter_count(model))]
        self._cursor = 0

    @property
    def current(self) -> Step:
        """The step the model is at now."""
        return self._steps[self._cursor]

    @property
    def model(self) -> nn.Module:
        """The current model."""
        return self.current.model

    @property
    def steps(self) -> list[Step]:
        """Every step, including undone ones still available for redo."""
        return list(self._steps)

    @property
    def cursor(self) -> int:
        """Index of the current step in :attr:`steps`."""
        return self._cursor

    @property
    def can_undo(self) -> bool:
        return self._cursor > 0

    @property
    def can_redo(self) -> bool:
        return self._cursor < len(self._steps) - 1

    @property
    def modified(self) -> bool:
        """Whether the current model differs from the opened one."""
        return self._cursor > 0

    def apply(
        self,
        description: str,
        operation: Callable[[nn.Module], tuple[nn.Module, list[LayerChange]]],
        **options: Any,
    ) -> Step:
        """Run ``operation`` on the current model and push its result as a new step."""
        model, changes = operation(self.model)
        step = Step(description, model, tuple(changes), parameter_count(model), options=options)
        del self._steps[self._cursor + 1 :]
        self._steps.append(step)
        self._cursor += 1
        return step

    def undo(self) -> Step:
        """Step back; the undone step stays available for :meth:`redo`."""
        if not self.can_undo:
            raise IndexError("nothing to undo")
        self._cursor -= 1
        return self.current

    def redo(self) -> Step:
        """Step forward again after an undo."""
        if not self.can_redo:
            raise IndexError("nothing to redo")
        self._cursor += 1
        return self.current

    def jump(self, index: int) -> Step:
        """Move the cursor to any existing step."""
        if not 0 <= index < len(self._steps):
            raise IndexError(f"no step {index}")
        self._cursor = index
        return self.current
