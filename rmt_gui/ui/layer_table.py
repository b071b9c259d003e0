"""The sortable, keyboard-navigable table of a model's fully connected layers.

Besides the BEMA fit it shows each layer's role and block (:mod:`rmt_gui.model.roles`) and
WeightWatcher's metrics (alpha, its label, stable rank), and filters its rows by block and role
(:class:`~rmt_gui.state.layer_filter.LayerFilter`). Embeddings, heads and norms are listed in
italics: shown, but not pruned unless selected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from rmt_gui.model.roles import ROLES
from rmt_gui.state.layer_filter import LayerFilter, is_structured, role_label
from rmt_gui.state.layer_metrics import metric_text, metric_values
from rmt_gui.state.layer_names import natural_key, shortened
from rmt_gui.ui import theme
from rmt_gui.ui.name_elide import NameDelegate
from rmt_gui.ui.settings import AppSettings

COLUMNS = ("Layer", "Shape", "Params", "n_signal", "Rank → kept", "Fit error", "GD rank",
           "Role", "α", "Label", "Stable rank")  # fmt: skip
TIPS = (
    "Weight name in the file (full name in each row's tooltip); drag the edge to widen",
    "out × in",
    "Weights and bias of this layer",
    "Signal eigenvalues above the BEMA cutoff λ₊",
    "Current numerical rank → rank the pruning rule would keep (preview; purple: factorised)",
    "Largest CDF gap between the MP fit and the spectrum: ● good (< 0.1), ▲ poor",
    "Gavish–Donoho rank: singular values above the optimal hard threshold for a noisy matrix\n"
    "(Gavish & Donoho, 2014), a second estimate of the signal rank next to n_signal",
    "Transformer block · what the layer is for (from its name); sorts by block, then role",
    "WeightWatcher's alpha: power-law exponent of the eigenvalue tail (2–6: well trained)",
    "WeightWatcher's label: over-trained (α < 2), under-trained (α > 6); ◆: heavy tail (α < 4),\n"
    "where the MP curve misses the spectrum's tail whatever the fit error says",
    "Stable rank Σσ² / σ²max (WeightWatcher's scale)",
)
FIT_COLUMN = 5
ROLE_COLUMNS = range(COLUMNS.index("Role"), len(COLUMNS))
"""Role and WeightWatcher columns: shown by default for a model of blocks (a transformer),
hidden for a plain stack of linear layers (whose table then fits without scrolling; the heat
map has its metrics); the header's context menu shows or hides any column."""
NAME_COLUMN = 0
KEEP_COLUMN = 4
NAME_WIDTH = (56, 360)
NAME_SHARE = 0.4
SORT_ROLE = Qt.ItemDataRole.UserRole
NAME_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


@dataclass
class Row:
    """One table row: the layer, its report once analysed, and the previewed rank."""

    info: object
    label: str = ""
    report: object = None
    keep: str = ""
    keep_sort: int = -1
    split: bool = False


def _role_cells(info) -> tuple[str, tuple[int, int]]:
    """The Role column's text (``3 · query``) and its sort key (block, then role order)."""
    block = info.role.block
    text = role_label(info) if block is None else f"{block} · {role_label(info)}"
    return text, (-1 if block is None else block, ROLES.index(info.role.role))


def _metric_cells(report) -> tuple[list[str], list[object]]:
    """Texts and sort keys of the WeightWatcher columns (undefined values sort first)."""
    values = metric_values(report)
    alpha, stable = values["alpha"], values["stable_rank"]
    metrics = report.metrics if report is not None else None
    label = metrics.warning or "" if metrics is not None else ""
    mark = " ◆" if metrics is not None and metrics.heavy_tail else ""
    texts = [metric_text(alpha), (label + mark).strip(), metric_text(stable)]
    keys = [-math.inf if alpha is None else alpha, label + mark,
            -math.inf if stable is None else stable]  # fmt: skip
    return texts, keys


def _cells(row: Row) -> tuple[list[str], list[object]]:
    """Display texts and sort keys of one row."""
    info, report = row.info, row.report
    shape = f"{info.shape[0]}×{info.shape[1]}"
    role_text, role_key = _role_cells(info)
    metric_texts, metric_keys = _metric_cells(report)
    texts = [row.label or info.name, shape, theme.compact(info.params), "…", "…", "…", "…",
             role_text, *(metric_texts if report is not None else ["…"] * 3)]  # fmt: skip
    keys: list[object] = [natural_key(info.name), info.shape[0] * info.shape[1], info.params, -1,
                          row.keep_sort, float("inf"), -1, role_key, *metric_keys]  # fmt: skip
    if report is not None and report.update is not None:
        rank = len(report.update.values)
        texts[3:7] = [str(rank), str(report.rank), f"adapter update, rank {info.adapter_rank}", "—"]
        keys[3:7] = [rank, report.rank, float("inf"), -1]
    elif report is not None and report.analysis is not None:
        fit = report.analysis.fit
        mark = "●" if fit.good_fit else "▲"
        kept = f"{report.rank} → {row.keep}" if row.keep else str(report.rank)
        texts[3:7] = [str(fit.n_signal), kept, f"{fit.fit_error:.3f} {mark}",
                     str(report.analysis.rank_gavish_donoho)]  # fmt: skip
        keys[3:7] = [fit.n_signal, row.keep_sort if row.keep else report.rank, fit.fit_error,
                    report.analysis.rank_gavish_donoho]  # fmt: skip
    elif report is not None:
        texts[3:7] = ["—", row.keep or "—", "failed", "—"]
    return texts, keys


class LayerTableModel(QAbstractTableModel):
    """Rows of layers; reports and previews fill in as they arrive."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Row] = []
        self._index: dict[str, int] = {}
        self.prefix = ""

    def rowCount(self, parent: Index | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._header_tip(section)
        return None

    def _header_tip(self, section: int) -> str:
        """A column's explanation; the Layer column's also says what its names leave out."""
        if section != NAME_COLUMN or not self.rows:
            return TIPS[section]
        dropped = [f"the prefix “{self.prefix}”"] if self.prefix else []
        if any(row.label != row.info.name for row in self.rows):
            dropped.append("“.weight”")
        shown = f"\nShown without {' and '.join(dropped)}, common to every layer" if dropped else ""
        return TIPS[section] + shown

    def data(self, index: Index, role: int = 0) -> object:
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _cells(row)[0][col]
        if role == SORT_ROLE:
            return _cells(row)[1][col]
        if role == NAME_ROLE:
            return row.info.name
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col == KEEP_COLUMN and row.split:
            return theme.MANUAL
        if role == Qt.ItemDataRole.ForegroundRole and col == FIT_COLUMN and row.report is not None:
            return self._fit_color(row.report)
        if role == Qt.ItemDataRole.FontRole and col == 0 and row.report is not None:
            font = QFont()
            font.setItalic(not (row.report.prunable and row.info.prunable))
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        return None

    @staticmethod
    def _fit_color(report) -> object:
        """The Fit error column's colour: good, poor, or plain for an adapter update."""
        if report.update is not None:
            return None
        analysis = report.analysis
        return theme.GOOD if analysis is not None and analysis.fit.good_fit else theme.POOR

    @staticmethod
    def _tooltip(row: Row) -> str:
        report, info = row.report, row.info
        if report is None:
            return f"{info.name}: analysing…"
        if report.problem:
            return f"{info.name}: {report.problem}"
        if report.update is not None:
            values = ", ".join(f"{v:.4g}" for v in report.update.values)
            return f"{info.name}: {report.update.note}\nsingular values: {values}"
        if not report.prunable:
            return f"{info.name}: spectrum only (not the weight of a linear layer)"
        if not info.prunable:
            return (f"{info.name}: {role_label(info)}, shown but not pruned by default "
                    "(select it and prune the selected layers to cut it)")  # fmt: skip
        return f"{info.name}: {info.params:,} parameters"

    def row_of(self, name: str) -> int | None:
        """The row index of layer ``name``."""
        return self._index.get(name)

    def set_layers(self, infos: list) -> None:
        """Replace the rows (a new model state); reports follow."""
        self.beginResetModel()
        self.prefix, labels = shortened([info.name for info in infos])
        self.rows = [Row(info, labels[info.name]) for info in infos]
        self._index = {info.name: i for i, info in enumerate(infos)}
        self.endResetModel()

    def set_report(self, report) -> None:
        """Fill in one layer's analysis."""
        i = self._index.get(report.name)
        if i is not None:
            self.rows[i].report = report
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def set_keep(self, keep: dict[str, tuple[str, int, bool]]) -> None:
        """Show the previewed rank per layer: text, sort key, factorised (others blank)."""
        for row in self.rows:
            row.keep, row.keep_sort, row.split = keep.get(row.info.name, ("", -1, False))
        if self.rows:
            last = len(self.rows) - 1
            self.dataChanged.emit(self.index(0, KEEP_COLUMN), self.index(last, KEEP_COLUMN))


class LayerProxy(QSortFilterProxyModel):
    """Sorts the table's rows and hides those its :class:`LayerFilter` rejects."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = LayerFilter()

    def set_filter(self, layer_filter: LayerFilter) -> None:
        """Show only the layers ``layer_filter`` accepts."""
        self.beginFilterChange()
        self.filter = layer_filter
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, _parent: Index) -> bool:
        rows = self.sourceModel().rows
        return source_row >= len(rows) or self.filter.accepts(rows[source_row].info)


class LayerTable(QTableView):
    """The layer table view: sortable columns, row selection, arrow-key navigation."""

    currentLayerChanged = Signal(str)
    layersSelected = Signal()
    filterCleared = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = LayerTableModel(self)
        self.proxy = LayerProxy(self)
        self.proxy.setSourceModel(self.source)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        header = self.horizontalHeader()
        header.setMinimumSectionSize(28)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME_COLUMN, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        self.setTextElideMode(Qt.TextElideMode.ElideLeft)
        self.setItemDelegateForColumn(NAME_COLUMN, NameDelegate(self))
        self.settings: AppSettings | None = None
        self.chosen_width: int | None = None
        self._sizing = False
        header.sectionResized.connect(self._name_resized)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._column_menu)
        self.chosen_columns: dict[int, bool] = {}
        self.source.modelReset.connect(self._default_columns)
        self.source.modelReset.connect(self._fit_names)
        self.selectionModel().currentRowChanged.connect(self._current_changed)
        self.selectionModel().selectionChanged.connect(lambda *_: self.layersSelected.emit())

    def showEvent(self, event: QShowEvent) -> None:
        """Pick up the main window's settings the first time the table is shown."""
        super().showEvent(event)
        settings = getattr(self.window(), "settings", None)
        if self.settings is None and isinstance(settings, AppSettings):
            self.remember_width(settings)

    def remember_width(self, settings: AppSettings) -> None:
        """Keep the Layer column's width in ``settings``: restore it now, store each change."""
        self.settings = settings
        self.chosen_width = settings.name_width()
        self._fit_names()

    def name_width(self) -> int:
        """The Layer column's width in pixels."""
        return self.horizontalHeader().sectionSize(NAME_COLUMN)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_names()

    def _fit_names(self) -> None:
        """Size the Layer column: the user's width, else the longest shown name as far as the
        other columns leave room, but never under :data:`NAME_SHARE` of the table (names first:
        the other columns then scroll)."""
        width = self.chosen_width
        if width is None:
            header = self.horizontalHeader()
            metrics = self.fontMetrics()
            texts = [row.label for row in self.source.rows] or [COLUMNS[NAME_COLUMN]]
            widest = min(max(metrics.horizontalAdvance(text) for text in texts) + 16, NAME_WIDTH[1])
            others = sum(header.sectionSize(i) for i in range(len(COLUMNS)) if i != NAME_COLUMN)
            viewport = self.viewport().width()
            room = max(viewport - others, int(NAME_SHARE * viewport))
            width = max(NAME_WIDTH[0], min(widest, room))
        if width != self.name_width():
            self._sizing = True
            self.horizontalHeader().resizeSection(NAME_COLUMN, width)
            self._sizing = False

    def _name_resized(self, section: int, _old: int, new: int) -> None:
        """A width the user dragged the Layer column to: kept for this table and later ones.

        Another column's new width (its contents changed) refits the Layer column instead.
        """
        if section != NAME_COLUMN:
            self._fit_names()
            return
        if self._sizing:
            return
        self.chosen_width = new
        if self.settings is not None:
            self.settings.set_name_width(new)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.currentLayerChanged.emit(str(current.data(NAME_ROLE)))

    def _default_columns(self) -> None:
        """Show the role and metric columns for a model of blocks or with embeddings, heads or
        norms, unless the user chose otherwise."""
        structured = is_structured(row.info for row in self.source.rows)
        for section in ROLE_COLUMNS:
            self.setColumnHidden(section, not self.chosen_columns.get(section, structured))
        self._fit_names()

    def _column_menu(self, pos) -> None:
        """The header's context menu: a check box per column (all but Layer)."""
        menu = QMenu(self)
        for section in range(1, len(COLUMNS)):
            action = menu.addAction(COLUMNS[section])
            action.setCheckable(True)
            action.setChecked(not self.isColumnHidden(section))
            action.toggled.connect(lambda shown, s=section: self.show_column(s, shown))
        menu.popup(self.horizontalHeader().mapToGlobal(pos))

    def show_column(self, section: int, shown: bool) -> None:
        """Show or hide column ``section`` (kept for later models in this table)."""
        self.chosen_columns[section] = shown
        self.setColumnHidden(section, not shown)
        self._fit_names()

    def current_layer(self) -> str | None:
        """The layer of the current row."""
        index = self.currentIndex()
        return str(index.data(NAME_ROLE)) if index.isValid() else None

    def selected_layers(self) -> list[str]:
        """Names of the selected rows, in model order."""
        names = {str(i.data(NAME_ROLE)) for i in self.selectionModel().selectedRows()}
        return [row.info.name for row in self.source.rows if row.info.name in names]

    def shown_layers(self) -> list[str]:
        """Names of the rows the filter shows, in table order."""
        proxy = self.proxy
        return [str(proxy.index(row, 0).data(NAME_ROLE)) for row in range(proxy.rowCount())]

    def select_layer(self, name: str) -> None:
        """Make ``name`` the current, selected row (a row the filter hides is shown again)."""
        i = self.source.row_of(name)
        if i is None:
            return
        if not self.proxy.filter.accepts(self.source.rows[i].info):
            self.filterCleared.emit()
            self.proxy.set_filter(LayerFilter())
        index = self.proxy.mapFromSource(self.source.index(i, 0))
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.selectionModel().setCurrentIndex(index, flags)
        self.scrollTo(index)
