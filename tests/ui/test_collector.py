"""Garbage is collected on the UI thread by the app's timer, never automatically elsewhere."""

from __future__ import annotations

import gc
import sys
import threading
import weakref
from types import ModuleType

from rmt_gui.ui.app import application
from rmt_gui.ui.collector import IMPORT_BURST, UiCollector, hold_full_collections


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_cycles_are_collected_by_the_timer_on_the_ui_thread(qtbot) -> None:
    application()
    assert not gc.isenabled()
    threads: list[threading.Thread] = []
    gc.callbacks.append(lambda phase, _info: threads.append(threading.current_thread()))
    try:
        ref = weakref.ref(Node())
        for _ in range(2 * gc.get_threshold()[0]):
            Node()
        qtbot.waitUntil(lambda: ref() is None, timeout=5_000)
    finally:
        gc.callbacks.pop()
    assert threads and set(threads) == {threading.main_thread()}


def test_full_collections_wait_while_held(qtbot, monkeypatch) -> None:
    collector = UiCollector()
    collector.timer.stop()
    calls: list[int] = []
    monkeypatch.setattr(gc, "get_count", lambda: (10_000, 100, 100))
    monkeypatch.setattr(gc, "collect", calls.append)
    monkeypatch.setattr(collector, "_full_at", -1e9)
    collector.hold_full(True)
    collector.check()
    collector.hold_full(False)
    collector.check()
    assert calls == [1, 2] and collector.holds == 0


def test_the_app_collector_is_held_by_name(qtbot) -> None:
    app_collector = application().findChild(UiCollector)
    hold_full_collections(True)
    assert app_collector.holds == 1
    hold_full_collections(False)
    assert app_collector.holds == 0


def test_a_burst_of_imports_is_frozen_not_walked(qtbot, monkeypatch) -> None:
    collector = UiCollector()
    collector.timer.stop()
    gc.unfreeze()
    frozen = gc.get_freeze_count()
    for index in range(IMPORT_BURST):
        monkeypatch.setitem(sys.modules, f"rmt_gui_test_burst_{index}", ModuleType("burst"))
    collector.check()
    assert gc.get_freeze_count() > frozen
    gc.unfreeze()
    collector.check()
    assert gc.get_freeze_count() == 0


def young_objects() -> int:
    """Objects the next young collection would walk."""
    return len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1))


def test_a_new_train_tab_or_file_tab_leaves_the_young_generations(
    qtbot, window, model_files
) -> None:
    window.training.show()
    assert young_objects() < 1_000
    window.open_paths([model_files["small"]])
    assert young_objects() < 1_000
