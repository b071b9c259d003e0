"""The app's plot view box: a new range moves the items at once, the context menu is built at
the first right-click.

pyqtgraph applies a new view range lazily, as the view starts painting (``prepareForPaint``
then ``updateMatrix``): the items moved then are marked dirty after that paint's region was
fixed, so every re-range painted its plot twice (measured on the live accuracy plot: 1.67 paints
a frame, 9.2 ms, against 1.0 and 6.7 ms with the range applied at once). It also builds every
ViewBox's context menu (two axis-control forms of a dozen widgets each) as the plot is made:
14-16 ms of a plot's ~47 ms, for plots that are rarely right-clicked. Every plot of the app is
made with :func:`plot_widget` or :func:`plot_item`, which give it an :class:`AppViewBox`.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg


class AppViewBox(pg.ViewBox):
    """A ViewBox that moves its items to a new range at once and builds pyqtgraph's context
    menu on first use (``menu`` is ``None`` until then; ``enableMenu=False`` offers none)."""

    def __init__(self, **kwargs: Any) -> None:
        self._menu_wanted = kwargs.pop("enableMenu", True)
        super().__init__(enableMenu=False, **kwargs)

    def updateViewRange(self, forceX: bool = False, forceY: bool = False) -> None:
        """pyqtgraph's range update, then the items' transform (not left for the next paint;
        a box without a size yet has none to map to)."""
        super().updateViewRange(forceX, forceY)
        rect = self.rect()
        if rect.width() > 0 and rect.height() > 0:
            self.updateMatrix()

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


def plot_item(enableMenu: bool = True, **kwargs: Any) -> pg.PlotItem:
    """A ``pg.PlotItem`` (same arguments) on an :class:`AppViewBox`."""
    return pg.PlotItem(viewBox=AppViewBox(enableMenu=enableMenu), enableMenu=enableMenu, **kwargs)


def plot_widget(enableMenu: bool = True, **kwargs: Any) -> pg.PlotWidget:
    """A ``pg.PlotWidget`` showing a :func:`plot_item` (same arguments)."""
    return pg.PlotWidget(plotItem=plot_item(enableMenu, **kwargs))
