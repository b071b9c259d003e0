"""Layer names squeezed into a width without losing what tells them apart.

A name such as ``0.attention.self.key`` elided at the left reads ``…self.key`` for every block;
here its first dotted part (the block number, once the shared prefix is dropped) stays and the
end fills the rest: ``0.…self.key``. Tables use :class:`NameDelegate`, plot titles
:func:`elide_name`.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

MIN_TAIL = 4
"""Fewest characters of the end worth showing after the kept first part."""


def elide_name(name: str, metrics: QFontMetrics, width: int) -> str:
    """``name`` in ``width`` pixels: whole, else its first dotted part (a block number) and
    as much of its end as fits, else just its end."""
    if metrics.horizontalAdvance(name) <= width:
        return name
    head, dot, rest = name.partition(".")
    if dot and rest:
        room = width - metrics.horizontalAdvance(head + dot)
        tail = metrics.elidedText(rest, Qt.TextElideMode.ElideLeft, room)
        if len(tail) > MIN_TAIL:
            return head + dot + tail
    return metrics.elidedText(name, Qt.TextElideMode.ElideLeft, width)


def elide_in_cell(option: QStyleOptionViewItem) -> None:
    """Replace a styled cell's text by :func:`elide_name` of it, for the cell's text width."""
    style = option.widget.style() if option.widget is not None else None
    margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1 if style else 3
    room = option.rect.width() - 2 * margin
    if option.features & QStyleOptionViewItem.ViewItemFeature.HasDecoration:
        room -= option.decorationSize.width() + margin
    option.text = elide_name(option.text, option.fontMetrics, room)
    option.textElideMode = Qt.TextElideMode.ElideNone


class NameDelegate(QStyledItemDelegate):
    """A name column's delegate: names elided by :func:`elide_name`, never mid-way."""

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        elide_in_cell(option)
