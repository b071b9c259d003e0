"""The evented workspace and documents, fed with synthetic models, reports and results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from torch import nn

from rmt_gui.state.document import Document
from rmt_gui.state.events import (
    Busy,
    EvaluationSet,
    StateChanged,
    Status,
    Sweep,
    SweepPoint,
)
from rmt_gui.state.workspace import Workspace


def _opened(name: str = "net.pt", history: list[str] | None = None) -> SimpleNamespace:
    """What opening a file yields, minus the analysis: a tiny model and its one layer."""
    checkpoint = SimpleNamespace(path=Path("/models") / name, history=history or [], detail="")
    layer = SimpleNamespace(name="weight", shape=(3, 4), params=12, factor_group=None)
    return SimpleNamespace(
        checkpoint=checkpoint, not_runnable="", model=nn.Linear(4, 3), layers=(layer,)
    )


def _record(signal) -> list:
    """Every value ``signal`` emits from now on."""
    seen: list = []
    signal.connect(seen.append)
    return seen


@pytest.fixture
def doc() -> Document:
    return Document(_opened())


def _pruned(doc: Document) -> nn.Module:
    """Push a synthetic pruned state; return its model."""
    model = nn.Linear(4, 3)
    doc.apply("pruned", model, ())
    return model


def test_history_moves_emit_one_event_each(doc: Document) -> None:
    states, dirty = _record(doc.state_changed), _record(doc.saved_changed)
    _pruned(doc)
    doc.undo()
    doc.undo()
    doc.redo()
    doc.redo()
    doc.jump(1)
    doc.jump(7)
    doc.jump(0)
    assert states == [
        StateChanged("applied", 1, 2), StateChanged("undo", 0, 2), StateChanged("redo", 1, 2),
        StateChanged("jump", 0, 2),
    ]  # fmt: skip
    assert dirty == [True, False, True, False]


def test_applying_after_undo_drops_the_redo_branch(doc: Document) -> None:
    _pruned(doc)
    doc.undo()
    states = _record(doc.state_changed)
    third = _pruned(doc)
    assert states == [StateChanged("applied", 1, 2)]
    assert doc.model is third and not doc.history.can_redo


def test_an_evaluation_lands_on_the_step_it_evaluated(doc: Document) -> None:
    original = doc.model
    _pruned(doc)
    seen = _record(doc.evaluation_set)
    doc.set_evaluation(original, "result")
    doc.set_evaluation(nn.Linear(4, 3), "stray")
    assert seen == [EvaluationSet(0, "result")]
    assert doc.history.steps[0].evaluation == "result"
    assert doc.history.current.evaluation is None


def test_an_export_marks_only_the_state_it_wrote(doc: Document) -> None:
    original = doc.model
    _pruned(doc)
    seen = _record(doc.saved_changed)
    doc.mark_saved(original)
    assert doc.dirty and seen == []
    doc.mark_saved(doc.model)
    assert not doc.dirty and seen == [False]
    doc.undo()
    assert doc.dirty


def test_reports_say_whether_they_are_for_the_current_state(doc: Document) -> None:
    original = doc.model
    seen = _record(doc.report_added)
    doc.add_report(original, SimpleNamespace(name="weight"))
    pruned = _pruned(doc)
    doc.add_report(pruned, SimpleNamespace(name="weight"))
    doc.start_analysis(pruned, _opened().layers)
    doc.add_report(pruned, SimpleNamespace(name="weight"))
    doc.add_report(original, SimpleNamespace(name="weight"))
    assert [(event.model is pruned, event.current) for event in seen] == [
        (False, True), (True, True), (False, False),
    ]  # fmt: skip
    assert doc.analysis().complete


def test_a_sweep_belongs_to_its_state_and_layer(doc: Document) -> None:
    original = doc.model
    seen = _record(doc.sweep_changed)
    doc.set_focus("weight")
    doc.begin_sweep(original, "weight", 2, total=2)
    doc.add_sweep_point(original, "weight", 1, 0.5)
    doc.add_sweep_point(original, "other", 1, 0.1)
    assert doc.sweep() == Sweep("weight", 2, 2, (SweepPoint(1, 0.5),))
    assert not doc.sweep().done and len(seen) == 2
    _pruned(doc)
    assert doc.sweep() is None
    doc.undo()
    doc.end_sweep(original, "weight", "cancelled")
    assert doc.sweep() == Sweep("weight", 2, 1, (SweepPoint(1, 0.5),), "cancelled")
    assert doc.sweep().done
    assert doc.sweep(layer="other") is None


def test_focus_status_and_progress_are_events(doc: Document) -> None:
    focus, status, busy = (_record(s) for s in (doc.focus_changed, doc.status_changed,
                                                 doc.busy_changed))  # fmt: skip
    doc.set_focus("weight")
    doc.set_focus("weight")
    doc.set_focus(None)
    doc.post_status("broken", error=True)
    doc.set_busy("Analysing", 1, 2)
    doc.set_busy()
    assert focus == ["weight"] and doc.focus == "weight"
    assert status == [Status("broken", True), Status("")] and doc.status == Status("")
    assert busy == [Busy("Analysing", 1, 2), Busy()] and doc.busy == Busy()


def test_closing_a_document_silences_it(doc: Document) -> None:
    seen = _record(doc.state_changed)
    doc.close()
    _pruned(doc)
    assert seen == []


def test_earlier_steps_come_from_the_file() -> None:
    assert Document(_opened(history=["trained", "pruned"])).earlier_steps == ["trained", "pruned"]
    assert Document(_opened()).earlier_steps == []


def test_the_workspace_announces_documents_and_sessions() -> None:
    space = Workspace()
    added, removed = _record(space.document_added), _record(space.document_removed)
    first, second = Document(_opened("a.pt")), Document(_opened("b.pt"))
    for doc in (first, second, first):
        space.add(doc)
    space.remove(first)
    space.remove(first)
    assert added == [first, second] and removed == [first]
    assert space.documents == (second,)
    assert space.find("b.pt") is second and space.find("a.pt") is None
    sessions = _record(space.training_added)
    session = object()
    space.add_training(session)
    space.add_training(session)
    assert sessions == [session] and space.training_sessions == (session,)
    space.remove_training(session)
    assert space.training_sessions == ()
    statuses = _record(space.status_changed)
    space.post_status("refused", True)
    assert statuses == [Status("refused", True)] == [space.status]


def test_the_state_imports_no_qt() -> None:
    code = (
        "import sys, rmt_gui.state.workspace, rmt_gui.state.preview; "
        "assert not [m for m in sys.modules if m.startswith(('PySide6', 'rmt_gui.ui'))]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
