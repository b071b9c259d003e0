"""Pruning options, a preview of ranks and parameters per layer, and the Apply button."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.state.layer_names import short_names
from rmt_gui.state.preview import PreviewRow, PreviewSummary, summarize
from rmt_gui.state.settings_schema import PruneSettings
from rmt_gui.ui import theme
from rmt_gui.ui.name_elide import elide_in_cell

if TYPE_CHECKING:
    from rmt_gui.model.rule import PruneRule

METHODS = (
    ("bema", "BEMA", "Keep every signal value and a fraction f of the noise values (the paper)"),
    ("rank", "Manual rank", "Keep a rank you choose (or drag the cutoff line in the plot)"),
    ("gavish-donoho", "Gavish–Donoho", "Gavish–Donoho optimal hard threshold"),
    ("mp-edge", "MP bulk edge", "Keep the values above the Marchenko–Pastur bulk edge"),
    ("energy", "Energy fraction", "Keep the fewest values holding this share of the energy"),
    ("shrink", "Shrink noise", "Keep every value; multiply the noise values by a factor"),
)
PREVIEW_COLUMNS = ("Layer", "Rank", "Params", "Note")
PREVIEW_TIPS = (
    "The layer's name without the prefix all layers share and without “.weight” (shortened "
    "keeping its block number and its end when the column is narrow; the full name is each "
    "row's tooltip)",
    "Rank now → rank kept",
    "Parameters now → after pruning",
    "What the rule does to the layer (the whole note is each row's tooltip)",
)
APPLY_TIP = "Apply the previewed ranks (Ctrl+Return); undo with Ctrl+Z"
LAYER_COLUMN, NOTE_COLUMN = PREVIEW_COLUMNS.index("Layer"), PREVIEW_COLUMNS.index("Note")
NUMBER_COLUMNS = (PREVIEW_COLUMNS.index("Rank"), PREVIEW_COLUMNS.index("Params"))
MIN_NAME_CHARS = 6
CELL_PADDING = 8
FACTORIZE_TIP = "Replace a layer by two thinner Linear layers when that has fewer parameters"


def double_spin(
    low: float, high: float, step: float, value: float, decimals: int = 2
) -> QDoubleSpinBox:
    """A decimal spin box with its range, step and value."""
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setValue(value)
    return box


def show_choice_tip(box: QComboBox) -> None:
    """Show the current item's description as ``box``'s tooltip."""
    box.setToolTip(str(box.currentData(Qt.ItemDataRole.ToolTipRole) or ""))


def described_combo(items: Sequence[tuple[str, str, str]], current: str) -> QComboBox:
    """A combo box of ``(key, short label, description)`` items, wide enough for every label;
    the description is each item's tooltip and, for the current one, the box's."""
    box = QComboBox()
    for index, (key, label, tip) in enumerate(items):
        box.addItem(label, key)
        box.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    box.setCurrentIndex(max(box.findData(current), 0))
    box.currentIndexChanged.connect(lambda _index: show_choice_tip(box))
    show_choice_tip(box)
    return box


class OneLine(QStyledItemDelegate):
    """Draw a cell on one line; only the Note column's text wraps (at words: it starts with
    what happens, so a word too long is cut at its end)."""

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        if index.column() == NOTE_COLUMN:
            option.textElideMode = Qt.TextElideMode.ElideRight
        else:
            option.features &= ~QStyleOptionViewItem.ViewItemFeature.WrapText
        if index.column() == LAYER_COLUMN:
            elide_in_cell(option)


class PreviewTable(QTableWidget):
    """The preview's table, its columns fitted to its width so that it never scrolls sideways.

    Rank and Params (numbers) get their full width; the Layer column as much of the rest as
    its names need, leaving the Note column room for each note's longest word, and the Note
    column the rest. A name that still does not fit keeps its block number and its end
    (:func:`~rmt_gui.ui.name_elide.elide_name`; the whole name is its tooltip); a note wraps
    onto a second line, the row growing to hold it.
    """

    def __init__(self) -> None:
        super().__init__(0, len(PREVIEW_COLUMNS))
        for column, (title, tip) in enumerate(zip(PREVIEW_COLUMNS, PREVIEW_TIPS, strict=True)):
            item = QTableWidgetItem(title)
            item.setToolTip(tip)
            self.setHorizontalHeaderItem(column, item)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideLeft)
        self.setItemDelegate(OneLine(self))
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setMinimumSectionSize(8)

    def natural_width(self, column: int) -> int:
        """The width that shows ``column``'s header and every cell whole."""
        header = self.horizontalHeader()
        return max(self.sizeHintForColumn(column), header.sectionSizeFromContents(column).width())

    def word_width(self) -> int:
        """The width that shows the longest word of every note (with its comma) whole."""
        metrics = self.fontMetrics()
        notes = [self.item(row, NOTE_COLUMN) for row in range(self.rowCount())]
        words = [word for item in notes if item is not None for word in item.text().split()]
        return max(map(metrics.horizontalAdvance, words), default=0) + CELL_PADDING

    def fit_columns(self) -> None:
        """Share the viewport's width out as the class says (on new rows and on resizes)."""
        chars = self.fontMetrics().averageCharWidth()
        room = self.viewport().width()
        for column in NUMBER_COLUMNS:
            self.setColumnWidth(column, self.natural_width(column))
            room -= self.columnWidth(column)
        note = min(self.natural_width(NOTE_COLUMN), self.word_width())
        header = self.horizontalHeader().sectionSizeFromContents(LAYER_COLUMN).width()
        least = max(MIN_NAME_CHARS * chars, header)
        name = max(min(self.natural_width(LAYER_COLUMN), room - note), least)
        self.setColumnWidth(LAYER_COLUMN, name)
        self.setColumnWidth(NOTE_COLUMN, max(room - name, MIN_NAME_CHARS * chars))
        self.resizeRowsToContents()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_columns()


class PrunePanel(QWidget):
    """Choose a rule and its scope, see what it would do, apply it."""

    ruleChanged = Signal()
    applyRequested = Signal()

    def __init__(self, options: PruneSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method_box = described_combo(METHODS, options.method)
        self.keep_noise = double_spin(0.0, 1.0, 0.05, options.keep_noise)
        self.keep_noise.setToolTip("f: fraction of the noise singular values kept (paper: 0.45)")
        self.rank = QSpinBox()
        self.rank.setRange(1, 1_000_000)
        self.rank.setValue(options.rank)
        self.energy = double_spin(0.05, 1.0, 0.05, options.energy)
        self.shrink = double_spin(0.0, 1.0, 0.1, options.shrink_factor)
        self.shrink.setToolTip("Noise singular values are multiplied by this factor")
        self.min_rank = QSpinBox()
        self.min_rank.setRange(0, 1_000_000)
        self.min_rank.setSpecialValueText("output width")
        self.min_rank.setValue(options.min_rank)
        self.min_rank.setToolTip("Never keep fewer values (default: the network's output width)")
        self.factorize = QCheckBox("Factorise layers when smaller")
        self.factorize.setChecked(options.factorize)
        self.factorize.setToolTip(FACTORIZE_TIP)
        self.skip_poor = QCheckBox("Skip layers whose MP fit is poor")
        self.skip_poor.setChecked(options.skip_poor_fit)
        self.scope_all = QRadioButton("All layers")
        self.scope_selected = QRadioButton("Selected layers")
        scope = QButtonGroup(self)
        scope.addButton(self.scope_all)
        scope.addButton(self.scope_selected)
        (self.scope_selected if options.scope == "selected" else self.scope_all).setChecked(True)
        self._build()
        self._method_changed()
        for signal in (
            self.method_box.currentIndexChanged, self.keep_noise.valueChanged,
            self.rank.valueChanged, self.energy.valueChanged, self.shrink.valueChanged,
            self.min_rank.valueChanged, self.factorize.toggled, self.skip_poor.toggled,
            self.scope_all.toggled,
        ):  # fmt: skip
            signal.connect(lambda *_args: self.ruleChanged.emit())
        self.method_box.currentIndexChanged.connect(self._method_changed)
        self.apply_button.clicked.connect(self.applyRequested.emit)

    def _build(self) -> None:
        rule = QGroupBox("Pruning rule")
        form = QFormLayout(rule)
        scope_row = QHBoxLayout()
        scope_row.addWidget(self.scope_all)
        scope_row.addWidget(self.scope_selected)
        form.addRow("Layers", scope_row)
        form.addRow("Method", self.method_box)
        self.rows = {
            "keep_noise": ("Noise kept f", self.keep_noise),
            "rank": ("Rank", self.rank),
            "energy": ("Energy", self.energy),
            "shrink": ("Shrink factor", self.shrink),
        }
        for label, widget in self.rows.values():
            form.addRow(label, widget)
        form.addRow("Minimum rank", self.min_rank)
        form.addRow(self.factorize)
        form.addRow(self.skip_poor)
        self.form = form
        self.table = PreviewTable()
        self.totals = QLabel("Preview appears once the spectra are ready.")
        self.totals.setWordWrap(True)
        self.apply_button = QPushButton("Apply pruning")
        self.apply_button.setToolTip(APPLY_TIP)
        self.apply_button.setEnabled(False)
        preview = QGroupBox("Preview")
        box = QVBoxLayout(preview)
        box.addWidget(self.table, 1)
        box.addWidget(self.totals)
        box.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(rule)
        layout.addWidget(preview, 1)

    def _method_changed(self) -> None:
        method = self.method
        visible = {"keep_noise": method == "bema", "rank": method == "rank",
                   "energy": method == "energy", "shrink": method == "shrink"}  # fmt: skip
        for key, (_, widget) in self.rows.items():
            self.form.setRowVisible(widget, visible[key])

    def allow_factorize(self, reason: str) -> None:
        """Offer Factorise, or grey it out with ``reason`` as its tooltip (the choice is kept
        for other models; the planner splits no layer where it cannot apply)."""
        self.factorize.setEnabled(not reason)
        self.factorize.setToolTip(f"Not available: {reason}" if reason else FACTORIZE_TIP)

    @property
    def method(self) -> str:
        return str(self.method_box.currentData())

    @property
    def selected_only(self) -> bool:
        return self.scope_selected.isChecked()

    def options(self) -> PruneSettings:
        """The panel's settings (persisted between runs)."""
        return PruneSettings(
            method=self.method, keep_noise=self.keep_noise.value(),
            rank=self.rank.value(), energy=self.energy.value(),
            shrink_factor=self.shrink.value(), min_rank=self.min_rank.value(),
            factorize=self.factorize.isChecked(), skip_poor_fit=self.skip_poor.isChecked(),
            scope="selected" if self.selected_only else "all",
        )  # fmt: skip

    def rule(self) -> PruneRule:
        """The :class:`PruneRule` these options describe (``RuleError`` if one is out of range).

        The rule module loads scipy, so it is imported here, off the window's start-up path.
        """
        from rmt_gui.model.rule import PruneRule

        return PruneRule(
            method=self.method, keep_noise=self.keep_noise.value(),
            rank=self.rank.value(), energy=self.energy.value(),
            shrink_factor=self.shrink.value(), min_rank=self.min_rank.value() or None,
            factorize="if_smaller" if self.factorize.isChecked() else "never",
            skip_poor_fit=self.skip_poor.isChecked(),
        )  # fmt: skip

    def use_rank(self, rank: int) -> None:
        """Switch to a manual rank (from the cutoff line) for the selected layers."""
        self.blockSignals(True)
        self.method_box.setCurrentIndex(self.method_box.findData("rank"))
        self.rank.setValue(rank)
        self.scope_selected.setChecked(True)
        self.blockSignals(False)
        self.ruleChanged.emit()

    def clear_preview(self, message: str) -> None:
        """Empty the preview with an explanation."""
        self.table.setRowCount(0)
        self.totals.setText(message)
        self.apply_button.setEnabled(False)

    def show_preview(self, preview, rows: tuple[PreviewRow, ...]) -> None:
        """List each planned layer (by its short name, the full one in the tooltip): current
        rank → kept, parameters before → after, notes.

        The planning module is loaded by then (it made the preview), so importing it is free.
        """
        from rmt_gui.model.pruning import factorize_blocker

        self.allow_factorize(factorize_blocker(preview.model))
        self.table.setRowCount(len(rows))
        names = short_names([row.plan.layer for row in rows])
        for index, row in enumerate(rows):
            item = row.plan
            cells = (
                names[item.layer],
                f"{row.rank_before} → {row.rank_after}",
                f"{theme.compact(item.params_before)} → {theme.compact(item.params_after)}",
                row.note,
            )
            tip = (
                f"{item.layer} {item.shape[0]}×{item.shape[1]}: n_signal {item.n_signal}, keep "
                f"{item.rank}; parameters {item.params_before:,} → {item.params_after:,}"
            )
            for col, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(f"{tip}\n{row.note}" if col == NOTE_COLUMN and row.note else tip)
                if col in NUMBER_COLUMNS:
                    cell.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if not row.changed:
                    cell.setForeground(theme.BULK_EDGE)
                self.table.setItem(index, col, cell)
        self.table.fit_columns()
        total = summarize(rows, preview.params_before)
        self.totals.setText(summary_text(total, preview.rule))
        self.apply_button.setEnabled(total.changed > 0)
        self.apply_button.setText(apply_text(total.changed))
        self.apply_button.setToolTip(
            APPLY_TIP if total.changed else "Nothing to apply: this rule changes no layer"
        )


def apply_text(changed: int) -> str:
    """The Apply button's label: how many layers it changes ("Nothing to apply" for none)."""
    if not changed:
        return "Nothing to apply"
    return f"Apply to {changed} layer{'s' if changed != 1 else ''}"


def summary_text(total: PreviewSummary, rule: PruneRule) -> str:
    """The preview's totals in the table's terms: layers changed (and how many are split into
    two factors, never "factorised" when none is) and the rule without its factorise flag."""
    split = f" ({total.factorised} factorised)" if total.factorised else ""
    layers = "layer" if total.layers == 1 else "layers"
    return (
        f"<b>Parameters {total.params_before:,} → {total.params_after:,}</b> "
        f"({total.share:.1f}% kept) · {total.changed} of {total.layers} {layers} changed{split} · "
        f"{dataclasses.replace(rule, factorize='never').describe()}"
    )
