"""Python's cyclic garbage collection, run on the UI thread in small steps.

Automatic collection runs in whichever thread happens to allocate; when a worker collected the
Python side of a closed window, Qt destroyed widgets off the UI thread and deadlocked. So it is
off, and a 100 ms timer on the UI thread collects instead. The objects alive once the app has
started (torch, Qt, pyqtgraph: ~250,000, never garbage) are frozen out of collection, so a full
pass walks only what the session created; young generations are collected every tick, so each
pass is small (a one-second batch of young objects cost ~50 ms), and full passes are spaced
``FULL_EVERY_S`` apart and held back while training runs. A burst of imports (the first
training step loads ~800 modules of torch's compiler stack, ~80,000 objects) is frozen too,
rather than walked by the next collection. A window or tab just built (a Train tab leaves ~50,000
young objects) has its young generations collected at once (:func:`settle_new_objects`), during
a build that already takes hundreds of milliseconds, not in a tick among the first live frames.
"""

from __future__ import annotations

import gc
import sys
import time

from PySide6.QtCore import QCoreApplication, QObject, QTimer

TICK_MS = 100
FULL_EVERY_S = 60.0
IMPORT_BURST = 50


class UiCollector(QObject):
    """Collects generation 0 and 1 as Python's thresholds say, the full heap rarely."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.holds = 0
        self._full_at = time.monotonic()
        self._modules = len(sys.modules)
        gc.disable()
        gc.freeze()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(TICK_MS)

    def hold_full(self, hold: bool) -> None:
        """Hold back full collections (nested: each ``True`` needs its ``False``)."""
        self.holds = max(0, self.holds + (1 if hold else -1))

    def check(self) -> None:
        """One tick: freeze a burst of imports, else collect the generations whose counters
        passed their thresholds."""
        modules = len(sys.modules)
        if modules - self._modules >= IMPORT_BURST:
            self._modules = modules
            gc.freeze()
            return
        young, middle, old = gc.get_count()
        if young <= self.threshold[0]:
            return
        if middle <= self.threshold[1]:
            gc.collect(0)
            return
        full_due = time.monotonic() - self._full_at > FULL_EVERY_S and not self.holds
        if old > self.threshold[2] and full_due:
            gc.collect(2)
            self._full_at = time.monotonic()
        else:
            gc.collect(1)


def hold_full_collections(hold: bool) -> None:
    """Hold back (or allow again) the app's full collections, e.g. while training runs."""
    app = QCoreApplication.instance()
    collector = app.findChild(UiCollector) if app is not None else None
    if collector is not None:
        collector.hold_full(hold)


def settle_new_objects() -> None:
    """Collect the young generations now, right after long-lived widgets were built: their
    survivors move to the old generation here (10-17 ms for a new Train tab, measured) rather
    than in a timer tick while the new tab is already drawing live frames."""
    gc.collect(1)
