"""A file's Rank-sweep and Compress views are built when first shown or used, and then draw
the document's state as if they had been there all along."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel

from rmt_gui.ui.lazy_page import LazyPage
from tests.helpers.app_window import WAIT_MS, open_and_wait


def page(view, title: str) -> LazyPage:
    """The middle column's page under the tab called ``title``."""
    tabs = view.views
    index = next(i for i in range(tabs.count()) if tabs.tabText(i) == title)
    widget = tabs.widget(index)
    assert isinstance(widget, LazyPage)
    return widget


def test_a_page_builds_once_on_first_use_or_show(qtbot) -> None:
    built: list[QLabel] = []

    def build() -> QLabel:
        built.append(QLabel("content"))
        return built[-1]

    shown, used = LazyPage(build), LazyPage(build)
    qtbot.addWidget(shown)
    qtbot.addWidget(used)
    assert not shown.built and not built
    shown.show()
    assert shown.built and len(built) == 1 and built[0].parentWidget() is shown
    assert shown.content() is built[0] and len(built) == 1
    assert used.content() is built[1] and used.built and not used.isVisible()


def test_hidden_views_wait_until_shown_then_draw_the_document(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    sweep_page, compress_page = page(view, "Rank sweep"), page(view, "Compress")
    assert not sweep_page.built and not compress_page.built
    view.table.select_layer("fc1.weight")
    view.views.setCurrentWidget(sweep_page)
    assert sweep_page.built and sweep_page.content() is view.sweep
    assert "fc1.weight" in view.sweep.title.text()
    assert not compress_page.built
    view.show_view(view.compress)
    assert view.views.currentWidget() is compress_page
    assert view.compress.title.text() == "Run the curve to compare methods at every size."


def test_the_sweep_shortcut_builds_and_shows_its_tab(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    view.table.select_layer("fc1.weight")
    sweep_page = page(view, "Rank sweep")
    action = next(
        a for a in window.findChildren(QAction) if a.shortcut().toString() == "Ctrl+Shift+R"
    )
    action.trigger()
    assert view.views.currentWidget() is sweep_page
    qtbot.waitUntil(lambda: not view.runner.running("sweep"), timeout=WAIT_MS)
    assert len(view.sweep.ranks) == 4


def test_settings_saved_from_a_tab_never_showing_the_sweep(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    window.save_settings()
    saved = window.settings.view()
    assert (saved.sweep_points, saved.sweep_log) == (4, True)
    assert not page(view, "Rank sweep").built
