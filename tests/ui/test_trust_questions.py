"""Trust questions in opening order: a question waits for files opened before it that may still
ask one, for a while, then is asked anyway; one dialog at a time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QWidget

from rmt_gui.jobs.analysis_job import NeedsTrust
from rmt_gui.ui.trust_questions import TrustQuestions


@dataclass(eq=False)
class Tab:
    """What the questions read of a file's tab: whether it opened, failed or is trusted."""

    path: Path
    document: object = None
    failure: str = ""
    trust: bool = False

    def open_trusted(self) -> None:
        self.trust = True

    def fail(self, message: str) -> None:
        self.failure = message


def questions(qtbot, tabs: list[Tab], wait_s: float) -> TrustQuestions:
    """The questions of ``tabs``, opened together."""
    parent = QWidget()
    qtbot.addWidget(parent)
    asked = TrustQuestions(parent, lambda: list(tabs), lambda *_: None, lambda: None, wait_s)
    asked.opened_together(tabs)
    return asked


def need(asked: TrustQuestions, tab: Tab) -> None:
    """``tab``'s worker found a pickle."""
    asked.need(tab, NeedsTrust(tab.path, "holds a pickled object", ("net.Net",)))


def shown(asked: TrustQuestions) -> Tab | None:
    """The tab whose question is on screen."""
    return asked.asking[0] if asked.asking is not None else None


def test_questions_come_in_opening_order_one_at_a_time(qtbot) -> None:
    first, second = Tab(Path("first.pt")), Tab(Path("second.pt"))
    asked = questions(qtbot, [first, second], wait_s=60.0)
    need(asked, second)
    assert shown(asked) is None
    need(asked, first)
    assert shown(asked) is first
    asked.asking[1].reject()
    qtbot.waitUntil(lambda: shown(asked) is second)
    assert "not trusted" in first.failure


def test_an_earlier_file_that_opened_or_failed_no_longer_holds_a_question(qtbot) -> None:
    opened, failed, pickled = (Tab(Path(n)) for n in ("a.npz", "b.pt", "c.pt"))
    asked = questions(qtbot, [opened, failed, pickled], wait_s=60.0)
    need(asked, pickled)
    opened.document = object()
    asked.ask_next()
    assert shown(asked) is None
    failed.failure = "b.pt: not a checkpoint"
    asked.ask_next()
    assert shown(asked) is pickled


def test_a_file_still_reading_holds_later_questions_only_for_a_while(qtbot) -> None:
    big, pickled = Tab(Path("big.safetensors")), Tab(Path("model.pt"))
    asked = questions(qtbot, [big, pickled], wait_s=0.3)
    need(asked, pickled)
    assert shown(asked) is None
    qtbot.waitUntil(lambda: shown(asked) is pickled, timeout=3000)
    assert big.document is None and not big.failure


def test_a_late_question_from_a_failed_tab_is_dropped(qtbot) -> None:
    tab = Tab(Path("model.pt"), failure="model.pt was not opened: its code was not trusted")
    asked = questions(qtbot, [tab], wait_s=60.0)
    need(asked, tab)
    assert shown(asked) is None and not asked.waiting
