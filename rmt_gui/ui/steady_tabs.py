"""A tab widget that lays itself out again only when what it lays out has changed.

Qt's ``QTabWidget`` answers every ``LayoutRequest`` by placing its bar and pages again and
repainting itself whole. Such a request reaches it whenever any widget in a page changes its
size hint: a label's new text travels up the page's layouts one event at a time, to the tab
widget at the top. A live page (the Train tab, whose labels change every frame) thus had the
whole window repainted several times a run, 15–19 ms each, measured; the frames themselves
cost 5–10 ms. :class:`SteadyTabWidget` lets a request through only when its bar's size hint,
its bar's visibility or its pages' minimum size changed; a resize lays it out as before.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QStackedWidget, QTabWidget, QWidget


class SteadyTabWidget(QTabWidget):
    """A ``QTabWidget`` that skips layout requests which would lay it out the same."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pages = self.findChild(QStackedWidget)
        self._laid_out_for: tuple[Any, ...] | None = None

    def event(self, event: QEvent) -> bool:
        """Pass a layout request on only if it would change the layout."""
        if event.type() == QEvent.Type.LayoutRequest:
            key = self._layout_key()
            if key == self._laid_out_for:
                return True
            self._laid_out_for = key
        return super().event(event)

    def _layout_key(self) -> tuple[Any, ...]:
        """What the tab widget's own layout depends on: its bar and its pages' minimum size."""
        bar = self.tabBar()
        return bar.sizeHint(), bar.isHidden(), self._pages.minimumSizeHint(), self.count()
