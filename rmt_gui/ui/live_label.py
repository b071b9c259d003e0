"""Widgets whose values change many times a second, without a layout pass or a painting of
their own per change.

``QLabel.setText`` asks the parent layout to recompute (its size hint may have changed), and
a layout pass over a window full of plots costs several milliseconds, so a label updated at
every frame of a live view made each frame two to three times dearer. :class:`LiveLabel` keeps a
fixed height of ``lines`` lines, takes the width it is given, and only repaints on a change.
:func:`deferred_paint` turns a widget's immediate repaints (``QProgressBar.setValue`` calls
``repaint()``) into one repaint with the rest of the frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QSize
from PySide6.QtGui import QPainter, QPaintEvent, QTextDocument
from PySide6.QtWidgets import QSizePolicy, QWidget

PADDING = 2


class LiveLabel(QWidget):
    """Rich text in a fixed number of lines; ``setText`` repaints without a layout pass."""

    def __init__(self, text: str = "", lines: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lines = lines
        self._text = ""
        self._doc = QTextDocument(self)
        self._doc.setDocumentMargin(0)
        self._doc.setDefaultFont(self.font())
        self._colour = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 2 * PADDING)
        self.setText(text)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        """Show ``text`` (HTML allowed); repaint only if it changed."""
        if text == self._text:
            return
        self._text = text
        self._render()

    def setColour(self, colour: str) -> None:
        """Text colour as a CSS colour, ``""`` for the palette's."""
        if colour != self._colour:
            self._colour = colour
            self._render()

    def _render(self) -> None:
        style = f" style='color:{self._colour}'" if self._colour else ""
        self._doc.setHtml(f"<span{style}>{self._text}</span>")
        self.setToolTip(self._doc.toPlainText())
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(100, self.height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        self._doc.setTextWidth(max(1, self.width() - 2 * PADDING))
        painter = QPainter(self)
        painter.setClipRect(self.rect())
        painter.translate(PADDING, PADDING)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        self._doc.drawContents(painter)
        painter.end()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            self.setFixedHeight(self._lines * self.fontMetrics().lineSpacing() + 2 * PADDING)
            self._doc.setDefaultFont(self.font())
            self._render()


@contextmanager
def deferred_paint(widget: QWidget) -> Iterator[None]:
    """Changes to ``widget`` inside the block are painted later, with the window's next paint.

    ``QProgressBar.setValue`` repaints the bar at once, inside the frame that set it: 2.3 ms a
    call in the Train tab, once 29 ms. With updates off for the block, re-enabling them asks
    for a single ordinary ``update()``.
    """
    widget.setUpdatesEnabled(False)
    try:
        yield
    finally:
        widget.setUpdatesEnabled(True)
