"""Whether a combo box shows its whole current text (nothing elided by the box's width)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox


def text_room(box: QComboBox) -> int:
    """The width (px) the style gives the current text inside ``box`` at its present size."""
    option = QStyleOptionComboBox()
    box.initStyleOption(option)
    field = box.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, box
    )
    return field.width()


def hidden_texts(box: QComboBox) -> list[str]:
    """The items of ``box`` that would be cut off if chosen (each one is made current in turn)."""
    current = box.currentIndex()
    cut = []
    for index in range(box.count()):
        box.setCurrentIndex(index)
        if box.fontMetrics().horizontalAdvance(box.currentText()) > text_room(box):
            cut.append(box.currentText())
    box.setCurrentIndex(current)
    return cut
