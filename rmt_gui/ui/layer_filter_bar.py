"""The bar above the layer table that filters its rows by transformer block and by role."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from rmt_gui.state.layer_filter import (
    ANY,
    LayerFilter,
    block_choices,
    choice_label,
    is_structured,
    role_choices,
)
from rmt_gui.ui.layer_table import LayerTable


class LayerFilterBar(QWidget):
    """Block and role menus for a :class:`LayerTable`, with the count of rows shown."""

    def __init__(self, table: LayerTable, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = table
        self.block = QComboBox()
        self.block.setToolTip("Show one transformer block (or the layers outside every block)")
        self.role = QComboBox()
        self.role.setToolTip("Show one kind of layer: attention query/key/value/output, MLP...")
        self.count = QLabel("")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Block"))
        layout.addWidget(self.block)
        layout.addWidget(QLabel("Role"))
        layout.addWidget(self.role, 1)
        layout.addWidget(self.count)
        self.block.currentIndexChanged.connect(lambda _i: self._apply())
        self.role.currentIndexChanged.connect(lambda _i: self._apply())
        table.source.modelReset.connect(self._refill)
        table.filterCleared.connect(self.clear)
        self._refill()

    @staticmethod
    def _fill(box: QComboBox, values: list[int | str], any_text: str) -> None:
        """Put ``values`` in ``box``, keeping its choice when it is still offered."""
        current = box.currentData()
        box.blockSignals(True)
        box.clear()
        for value in values:
            box.addItem(any_text if value == ANY else choice_label(value), value)
        box.setCurrentIndex(max(box.findData(current), 0) if current is not None else 0)
        box.blockSignals(False)

    def _refill(self) -> None:
        """New rows (a file opened, a state changed): offer their blocks and roles."""
        infos = [row.info for row in self.table.source.rows]
        self._fill(self.block, block_choices(infos), "all blocks")
        self._fill(self.role, role_choices(infos), "all roles")
        self.setVisible(is_structured(infos))
        self._apply()

    def current(self) -> LayerFilter:
        """The filter the menus describe (block 0 is a block, not "any")."""
        block, role = self.block.currentData(), self.role.currentData()
        return LayerFilter(ANY if block is None else block, role or ANY)

    def _apply(self) -> None:
        """Filter the table and say how many rows it shows."""
        self.table.proxy.set_filter(self.current())
        shown, total = self.table.proxy.rowCount(), len(self.table.source.rows)
        self.count.setText(f"{shown} of {total} layers" if shown < total else f"{total} layers")

    def clear(self) -> None:
        """Show every row again (the table was asked for a layer the filter hid)."""
        for box in (self.block, self.role):
            box.blockSignals(True)
            box.setCurrentIndex(0)
            box.blockSignals(False)
        self._apply()
