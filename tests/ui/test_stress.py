"""Guards against the PySide6 6.12.0 reference-count crash (docs/architecture.md §3)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import PySide6
import pytest

STRESS = textwrap.dedent(
    """
    import numpy as np
    from PySide6.QtCore import QRectF
    from PySide6.QtWidgets import QApplication, QGraphicsObject, QGraphicsScene
    from rmt_gui.ui.app import application
    from rmt_gui.ui.spectrum_items import SpectrumItems
    import pyqtgraph as pg

    class Item(QGraphicsObject):
        def boundingRect(self):
            return QRectF(0, 0, 1, 1)

        def paint(self, painter, option, widget=None):
            pass

    app = application()
    scene = QGraphicsScene()
    for _ in range(20_000):
        item = Item()
        scene.addItem(item)
        scene.removeItem(item)
    plot = pg.PlotWidget()
    items = SpectrumItems(plot.getPlotItem())
    rng = np.random.default_rng(0)
    for i in range(3_000):
        edges = np.linspace(0, 1, 41)
        items.glyph.set_data(edges, rng.random(40), edges, rng.random(41), rng.random(5), -0.1)
        if i % 100 == 0:
            app.processEvents()
    print("survived")
    """
)


def test_pyside6_is_below_the_crashing_release() -> None:
    major, minor = (int(part) for part in PySide6.__version__.split(".")[:2])
    assert (major, minor) < (6, 12), f"PySide6 {PySide6.__version__} crashes under load"


@pytest.mark.slow
def test_scene_and_set_data_stress_survives() -> None:
    result = subprocess.run(
        [sys.executable, "-c", STRESS], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("survived")
