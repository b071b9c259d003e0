"""The steady tab widget: a page's changing labels never repaint the whole tab widget, while
changes to the tabs themselves still lay it out."""

from __future__ import annotations

from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from rmt_gui.ui.steady_tabs import SteadyTabWidget


class Canvas(QWidget):
    """A page's large widget that counts its repaints."""

    def __init__(self) -> None:
        super().__init__()
        self.paints = 0
        self.setMinimumSize(400, 300)

    def paintEvent(self, event: QPaintEvent) -> None:
        self.paints += 1


def shown_tabs(qtbot, tabs: QTabWidget) -> tuple[QLabel, Canvas]:
    """``tabs`` with one page (a label over a canvas), shown and settled."""
    page = QWidget()
    layout = QVBoxLayout(page)
    label, canvas = QLabel("step 1"), Canvas()
    layout.addWidget(label)
    layout.addWidget(canvas)
    tabs.addTab(page, "Train")
    qtbot.addWidget(tabs)
    tabs.resize(600, 500)
    tabs.show()
    qtbot.waitExposed(tabs)
    qtbot.wait(50)
    return label, canvas


def repaints_after_new_text(qtbot, tabs: QTabWidget) -> int:
    """How often the canvas is repainted after the label beside it changes its text thrice."""
    label, canvas = shown_tabs(qtbot, tabs)
    canvas.paints = 0
    for text in ("step 20 of 500", "step 400 of 500 · ETA 3 s", "done"):
        label.setText(text)
        qtbot.wait(40)
    return canvas.paints


def test_a_label_in_a_page_no_longer_repaints_its_neighbours(qtbot) -> None:
    assert repaints_after_new_text(qtbot, QTabWidget()) > 0
    assert repaints_after_new_text(qtbot, SteadyTabWidget()) == 0


def test_tabs_are_still_laid_out_when_their_titles_change(qtbot) -> None:
    tabs = SteadyTabWidget()
    shown_tabs(qtbot, tabs)
    narrow = tabs.tabBar().width()
    tabs.setTabText(0, "Train — RMT-pruned, epoch 3 of 5, running")
    qtbot.waitUntil(lambda: tabs.tabBar().width() > narrow + 50)
    second = QWidget()
    tabs.addTab(second, "final.pt")
    tabs.setCurrentWidget(second)
    qtbot.waitUntil(lambda: second.isVisible() and second.height() > 300)
