"""Plots whose right-click menu is built on the first right-click, not with the plot.

pyqtgraph builds every ViewBox's context menu (two axis-control forms of a dozen widgets each)
as the plot is made: 14 ms of a plot's ~50 ms, measured, and a file's tab or the Train tab holds
several plots that are rarely right-clicked. :class:`LazyMenuViewBox` keeps the menu (same
actions, same place) and builds it when it is first asked for.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg


class LazyMenuViewBox(pg.ViewBox):
    """A ViewBox with pyqtgraph's context menu, built on first use (``menu`` is ``None``
    until then)."""

    def __init__(self, **kwargs: Any) -> None:
        self._menu_wanted = kwargs.pop("enableMenu", True)
        super().__init__(enableMenu=False, **kwargs)

    def menuEnabled(self) -> bool:
        return self._menu_wanted

    def setMenuEnabled(self, enableMenu: bool = True) -> None:
        """Offer the menu (built at its first use) or not (dropping a built one)."""
        self._menu_wanted = enableMenu
        if not enableMenu:
            super().setMenuEnabled(False)

    def getMenu(self, ev: Any) -> Any:
        if self.menu is None and self._menu_wanted:
            super().setMenuEnabled(True)
        return self.menu

    def getContextMenus(self, event: Any) -> list:
        menu = self.getMenu(event)
        return menu.actions() if menu is not None else []


def plot_widget(**kwargs: Any) -> pg.PlotWidget:
    """A ``pg.PlotWidget`` (same arguments) whose context menu is built on first use."""
    return pg.PlotWidget(viewBox=LazyMenuViewBox(), **kwargs)
