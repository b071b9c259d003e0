"""Names elided in tables keep their block number and their end."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QStyleOptionViewItem, QTableView

from rmt_gui.ui.name_elide import NameDelegate, elide_name

NAMES = ["0.attention.self.key", "1.attention.self.key", "11.attention.output.dense"]


def styled_text(qtbot, width: int) -> list[str]:
    """The texts the delegate paints in a name column ``width`` pixels wide."""
    model = QStandardItemModel()
    for name in NAMES:
        model.appendRow(QStandardItem(name))
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    delegate = NameDelegate(view)
    view.setItemDelegateForColumn(0, delegate)
    view.setColumnWidth(0, width)
    texts = []
    for row in range(model.rowCount()):
        option = QStyleOptionViewItem()
        option.initFrom(view)
        option.rect = view.visualRect(model.index(row, 0))
        delegate.initStyleOption(option, model.index(row, 0))
        texts.append(option.text)
    return texts


def test_a_narrow_column_keeps_each_block_number_and_the_end(qtbot) -> None:
    texts = styled_text(qtbot, 110)
    assert [t.split(".")[0] for t in texts] == ["0", "1", "11"]
    assert all("…" in t for t in texts) and texts[0].endswith("key")
    assert len(set(texts)) == 3


def test_a_wide_column_shows_whole_names(qtbot) -> None:
    assert styled_text(qtbot, 400) == NAMES


def test_elide_name_falls_back_to_the_end_when_the_head_leaves_no_room(qtbot) -> None:
    view = QTableView()
    qtbot.addWidget(view)
    metrics = QFontMetrics(view.font())
    text = elide_name(
        "encoder_block_number_eleven.key", metrics, metrics.horizontalAdvance("…eleven.key")
    )
    assert text.startswith("…") and text.endswith("key")
