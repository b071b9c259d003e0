"""Live widgets paint with the frame, not inside it: a progress bar set in a deferred block
paints once, later (``QProgressBar.setValue`` alone repaints at once)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QProgressBar

from rmt_gui.ui.live_label import deferred_paint


class PaintCounter(QObject):
    """Counts the paint events its watched widget receives."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def shown_bar(qtbot) -> tuple[QProgressBar, PaintCounter]:
    bar = QProgressBar()
    qtbot.addWidget(bar)
    bar.setRange(0, 100)
    bar.show()
    qtbot.waitExposed(bar)
    qtbot.wait(20)
    counter = PaintCounter()
    bar.installEventFilter(counter)
    return bar, counter


def test_set_value_alone_repaints_at_once(qtbot) -> None:
    bar, counter = shown_bar(qtbot)
    bar.setValue(40)
    assert counter.count == 1


def test_a_deferred_block_paints_once_after_it(qtbot) -> None:
    bar, counter = shown_bar(qtbot)
    with deferred_paint(bar):
        for value in range(1, 50):
            bar.setValue(value)
        bar.setFormat("step %v")
    assert counter.count == 0 and bar.updatesEnabled()
    qtbot.waitUntil(lambda: counter.count >= 1)
    qtbot.wait(20)
    assert counter.count == 1 and bar.value() == 49 and bar.text() == "step 49"
