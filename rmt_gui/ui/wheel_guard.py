"""The mouse wheel scrolls the panel under it, never a setting the user has not clicked into.

Qt lets the wheel change any combo or spin box under the pointer (and gives it focus), so
scrolling a long form silently rewrote its settings. One application-wide event filter makes
every such box take focus only by click or Tab, and hands the wheel over an unfocused one to
the nearest scroll area instead (or drops it when there is none).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QWidget,
)

GUARDED = (QComboBox, QAbstractSpinBox)


def scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    """The closest scroll area holding ``widget`` (its viewport's owner), if any."""
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


def forward_wheel(event: QWheelEvent, area: QAbstractScrollArea) -> None:
    """Deliver a copy of ``event`` to ``area``'s viewport, which scrolls it."""
    viewport = area.viewport()
    position = viewport.mapFromGlobal(event.globalPosition().toPoint()).toPointF()
    copy = QWheelEvent(
        position, event.globalPosition(), event.pixelDelta(), event.angleDelta(),
        event.buttons(), event.modifiers(), event.phase(), event.inverted(),
    )  # fmt: skip
    QApplication.sendEvent(viewport, copy)


class WheelGuard(QObject):
    """Combo and spin boxes: focus by click or Tab only; the wheel acts on them once focused."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Set the focus policy as a box is polished; divert the wheel while it lacks focus."""
        if not isinstance(watched, GUARDED):
            return False
        if event.type() == QEvent.Type.Polish:
            watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        elif event.type() == QEvent.Type.Wheel and not watched.hasFocus():
            assert isinstance(event, QWheelEvent)
            area = scroll_area_of(watched)
            if area is not None:
                forward_wheel(event, area)
            event.accept()
            return True
        return False


def install(app: QApplication) -> WheelGuard:
    """Guard every combo and spin box of ``app`` (once; later calls return the same guard)."""
    guard = app.findChild(WheelGuard)
    if guard is None:
        guard = WheelGuard(app)
        app.installEventFilter(guard)
    return guard
