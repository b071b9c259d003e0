"""Every open document and training session of one window, as Qt-free, evented state.

Views subscribe to the workspace (a document opened or closed, a training session started or
ended, a window-wide status line) instead of asking one another to refresh. The signals are
psygnal's (Qt-free and typed, see :mod:`rmt_gui.state.document`); they run their subscribers
synchronously on the emitting thread, so call these methods on the UI thread only.
"""

from __future__ import annotations

from typing import Any

from psygnal import Signal, SignalInstance

from rmt_gui.state.document import Document
from rmt_gui.state.events import Status


class Workspace:
    """The open documents (in opening order), training sessions and the window's own status."""

    document_added = Signal(Document)
    document_removed = Signal(Document)
    training_added = Signal(object)
    training_removed = Signal(object)
    status_changed = Signal(Status)

    def __init__(self) -> None:
        self._documents: list[Document] = []
        self._training: list[object] = []
        self.status = Status("Ready")

    @property
    def documents(self) -> tuple[Document, ...]:
        """The open documents, oldest first."""
        return tuple(self._documents)

    @property
    def training_sessions(self) -> tuple[object, ...]:
        """The training sessions the window holds (running or finished, not yet closed)."""
        return tuple(self._training)

    def add(self, document: Document) -> None:
        """A file finished opening."""
        _join(self._documents, document, self.document_added)

    def remove(self, document: Document) -> None:
        """A document's tab closed."""
        _leave(self._documents, document, self.document_removed)

    def find(self, name: str) -> Document | None:
        """The open document whose file is called ``name``."""
        return next((doc for doc in self._documents if doc.name == name), None)

    def add_training(self, session: object) -> None:
        """A training session started (its panel holds the run)."""
        _join(self._training, session, self.training_added)

    def remove_training(self, session: object) -> None:
        """A training session's tab closed."""
        _leave(self._training, session, self.training_removed)

    def post_status(self, text: str, error: bool = False) -> None:
        """A window-wide message (nothing to do with one document, e.g. a refused file)."""
        self.status = Status(text, error)
        self.status_changed.emit(self.status)


def _join(items: list[Any], item: object, added: SignalInstance) -> None:
    """Append ``item`` to ``items`` and announce it, unless it is there already."""
    if item not in items:
        items.append(item)
        added.emit(item)


def _leave(items: list[Any], item: object, removed: SignalInstance) -> None:
    """Remove ``item`` from ``items`` and announce it, if it was there."""
    if item in items:
        items.remove(item)
        removed.emit(item)
