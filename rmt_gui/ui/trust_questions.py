"""Trust questions for files that hold a pickled object: one dialog at a time, in opening order.

Files opened together (one drop, one ``rmt-gui open a b c``) open in parallel workers, which
find their pickles in any order. A file's question is therefore asked only once no file opened
before it in the same call can still ask one (each has opened, failed, been trusted, or asked),
so the order on screen is the order the user gave, whichever worker was fastest. A file still
reading after :data:`TRUST_WAIT_S` (a large one, which may never ask) no longer holds up the
questions of the files after it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from rmt_gui.ui import dialogs

if TYPE_CHECKING:
    from rmt_gui.jobs.analysis_job import NeedsTrust
    from rmt_gui.ui.document_view import DocumentView

TRUST_WAIT_S = 5.0
"""The longest a question waits for files opened before it that are still opening."""


class Question(NamedTuple):
    """A trust question waiting its turn: whose, what it found, and when it came."""

    view: DocumentView
    needs: NeedsTrust
    arrived: float


class TrustQuestions:
    """The waiting trust questions of a window's tabs, and the one on screen.

    ``views`` lists the open tabs; ``post_status`` and ``show_status`` update the status bar;
    ``wait_s`` is how long a question waits for the files opened before it.
    """

    def __init__(
        self,
        parent: QWidget,
        views: Callable[[], list[DocumentView]],
        post_status: Callable[[str, bool], None],
        show_status: Callable[[], None],
        wait_s: float = TRUST_WAIT_S,
    ) -> None:
        self._parent, self._views, self.wait_s = parent, views, wait_s
        self._post_status, self._show_status = post_status, show_status
        self._bursts = itertools.count()
        self._order: dict[DocumentView, tuple[int, int]] = {}
        self.waiting: list[Question] = []
        self.asking: tuple[DocumentView, QMessageBox] | None = None
        self._patience = QTimer(parent)
        self._patience.setSingleShot(True)
        self._patience.timeout.connect(self.ask_next)

    def opened_together(self, views: list[DocumentView]) -> None:
        """Remember that ``views`` were opened by one call, in this order."""
        burst = next(self._bursts)
        self._order.update({view: (burst, index) for index, view in enumerate(views)})

    def need(self, view: DocumentView, needs: NeedsTrust) -> None:
        """``view``'s file holds a pickled object: queue its question with the time it came (a
        repeat replaces it; a late one from a tab that has failed since is dropped)."""
        if view.failure:
            return
        self._drop(view)
        self.waiting.append(Question(view, needs, time.monotonic()))
        self.waiting.sort(key=lambda question: self._order.get(question.view, (-1, 0)))
        self.ask_next()

    def forget(self, view: DocumentView) -> None:
        """``view``'s tab is closing: drop its question; the next one may now be asked."""
        self._order.pop(view, None)
        self._drop(view)
        self.ask_next()

    def _drop(self, view: DocumentView) -> None:
        """Take ``view``'s waiting question off the queue, if it has one."""
        self.waiting = [question for question in self.waiting if question.view is not view]

    def ask_next(self) -> None:
        """Show the first waiting question, unless one is on screen or a file opened before
        it (in the same call) may still ask one and the question has not waited ``wait_s``."""
        views = self._views()
        self.waiting = [question for question in self.waiting if question.view in views]
        if self.asking is not None or not self.waiting:
            return
        view, needs, arrived = self.waiting[0]
        left = arrived + self.wait_s - time.monotonic()
        if left > 0 and any(self._may_still_ask(v) for v in self._opened_before(view, views)):
            self._patience.start(max(1, int(1000 * left)))
            return
        self.waiting.pop(0)
        self._post_status(f"{needs.path}: holds a pickled object; waiting for your decision", True)
        box = dialogs.ask_trust(self._parent, needs.path, lambda: self._trusted(view), needs.names)
        box.finished.connect(lambda _result: self._answered(view, box))
        self.asking = (view, box)

    def _opened_before(self, view: DocumentView, views: list[DocumentView]) -> list[DocumentView]:
        """The open tabs whose files were opened before ``view``'s, by the same call."""
        burst, index = self._order.get(view, (-1, 0))
        return [
            other for other in views
            if self._order.get(other, (-2, 0))[0] == burst and self._order[other][1] < index
        ]  # fmt: skip

    def _may_still_ask(self, view: DocumentView) -> bool:
        """Whether ``view`` is still opening, untrusted, and has not asked yet."""
        asked = self.asking is not None and self.asking[0] is view
        queued = any(question.view is view for question in self.waiting)
        return (
            view.document is None and not view.failure and not view.trust and not (asked or queued)
        )

    def _trusted(self, view: DocumentView) -> None:
        """The user trusts the file of ``view``: open it again, unpickled in its worker."""
        if view in self._views():
            view.open_trusted()

    def _answered(self, view: DocumentView, box: QMessageBox) -> None:
        """The question was answered: the file opens, or its tab says it was not opened; then
        the next question."""
        role = box.buttonRole(box.clickedButton()) if box.clickedButton() else None
        self.asking = None
        if role != QMessageBox.ButtonRole.AcceptRole:
            self._post_status("", False)
            if view in self._views():
                view.fail(f"{view.path.name} was not opened: its code was not trusted")
        else:
            self._post_status(f"Opening {view.path.name}, its code trusted", False)
        self._show_status()
        self.ask_next()
