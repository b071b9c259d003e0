"""The Train panel's settings form: network, optimiser, pruning schedule, data and output.

Defaults are the paper's experiment, read from :class:`TrainConfig` and :class:`PruneConfig`
(never repeated here). Every field is keyboard reachable and labelled with a mnemonic.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rmt_gui.jobs.config import (
    VARIANT_HELP,
    VARIANTS,
    NoiseSchedule,
    PruneConfig,
    SnapshotPolicy,
    TrainConfig,
    parse_dims,
)
from rmt_gui.state.settings_schema import SNAPSHOTS_PER_SECOND, TrainSettings
from rmt_gui.state.training import user_runs_dir
from rmt_gui.ui.prune_panel import described_combo, double_spin, show_choice_tip

DEFAULT = TrainConfig()
PRUNE = PruneConfig()
RULE = PRUNE.rule
MAX_INT = 2**31 - 1
TOOLTIP = Qt.ItemDataRole.ToolTipRole


def _spin(low: int, high: int, value: int, special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    return box


def _add_rows(form: QFormLayout, rows: list[tuple[str | None, QWidget | QLayout]]) -> QFormLayout:
    """Add ``(label, field)`` rows to ``form`` (a ``None`` label: the field spans the row)."""
    for label, field in rows:
        if label is None:
            form.addRow(field)
        else:
            form.addRow(label, field)
    return form


def _folder_row(form: QFormLayout, label: str, edit: QLineEdit, button: QPushButton) -> None:
    """A form row of a folder field and its Choose button; Alt+mnemonic focuses the field."""
    text = QLabel(label)
    text.setBuddy(edit)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(button)
    form.addRow(text, row)


class TrainOptions(QWidget):
    """All settings of a training run; :meth:`config` turns them into a :class:`TrainConfig`.

    The network and pruning groups are this widget's own; :attr:`output` (compare, data and
    output folders) is placed by the panel where it stays in view without scrolling.
    """

    dataFolderRequested = Signal()

    def __init__(self, options: TrainSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._models: list[tuple[str, Any, tuple[int, ...]]] = []
        self._build_network()
        self._build_pruning()
        self._build_output()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for group in (self.network, self.pruning):
            layout.addWidget(group)
        layout.addStretch(1)
        self.source.currentIndexChanged.connect(self._source_changed)
        self.variant.currentIndexChanged.connect(self._variant_changed)
        self.pruning.toggled.connect(self.compare.setEnabled)
        self.load(options)

    def _build_network(self) -> None:
        self.source = described_combo([], "")
        self.source.setToolTip("Train a new network, or go on training a model open in a tab")
        self.dims = QLineEdit()
        self.dims.setToolTip("Layer widths from the 784 input pixels to the 10 classes")
        self.epochs = _spin(1, 10_000, DEFAULT.epochs)
        self.lr = double_spin(1e-4, 10.0, 0.01, DEFAULT.lr, decimals=4)
        self.momentum = double_spin(0.0, 0.999, 0.05, DEFAULT.momentum, decimals=3)
        self.batch = _spin(1, 60_000, DEFAULT.batch_size)
        self.seed = _spin(0, MAX_INT, DEFAULT.seed)
        self.seed.setToolTip("Seeds the initial weights and the order of the mini-batches")
        self.limit_train = _spin(0, 60_000, 0, "all 60,000")
        self.limit_train.setSingleStep(1000)
        self.limit_test = _spin(0, 10_000, 0, "all 10,000")
        self.limit_test.setSingleStep(1000)
        self.network = QGroupBox("Network and optimiser")
        _add_rows(QFormLayout(self.network), [
            ("Start &from", self.source), ("Layer &widths", self.dims), ("&Epochs", self.epochs),
            ("&Learning rate", self.lr), ("&Momentum", self.momentum),
            ("&Batch size", self.batch), ("See&d", self.seed),
            ("Training images", self.limit_train), ("Test images", self.limit_test),
        ])  # fmt: skip

    def _build_pruning(self) -> None:
        self.every = _spin(1, 100_000, PRUNE.every_epochs)
        self.every_unit = described_combo(
            [("epochs", "epochs", "Cut every N epochs"), ("steps", "steps", "Cut every N steps")],
            "epochs",
        )
        every_row = QHBoxLayout()
        every_row.addWidget(self.every, 1)
        every_row.addWidget(self.every_unit)
        self.first_cut = described_combo(
            [("start", "at the start", "Cut the random initialisation first, as the notebook"),
             ("end", "after one period", "First cut after one period: a trained network")],
            PRUNE.first_cut,
        )  # fmt: skip
        self.variant = described_combo([(v, v, VARIANT_HELP[v]) for v in VARIANTS], PRUNE.variant)
        self.keep_noise = double_spin(0.0, 1.0, 0.05, RULE.keep_noise)
        self.keep_noise.setToolTip("f: fraction of the noise singular values kept (paper: 0.45)")
        self.schedule = QLineEdit()
        self.schedule.setPlaceholderText("constant f; or linear:0.2:0.6; or 0.2,0.3,0.45")
        self.schedule.setToolTip("A schedule for f over the epochs (overrides f when set)")
        self.shrink = double_spin(0.0, 1.0, 0.1, RULE.shrink_factor)
        self.threshold = double_spin(0.001, 1.0, 0.01, RULE.fit_threshold, decimals=3)
        self.threshold.setToolTip("A layer's MP fit is good when its CDF error is below this")
        self.skip_poor = QCheckBox("Leave layers with a poor MP fit alone")
        self.factorize = QCheckBox("Factorise a layer in two when that is smaller")
        self.min_rank = _spin(0, 1_000_000, 0, "output width")
        self.formula = described_combo(
            [("paper", "paper", "The paper's Tracy–Widom scaling: exponent 4/3"),
             ("notebook", "notebook", "The notebook's scaling: (1+√γ)**4/3")], RULE.formula,
        )  # fmt: skip
        self.alpha = double_spin(0.0, 0.49, 0.05, RULE.alpha)
        self.beta = double_spin(0.001, 0.999, 0.05, RULE.beta, decimals=3)
        self.pruning = QGroupBox("&Prune during training (RMT-SVD with BEMA)")
        self.pruning.setCheckable(True)
        self.prune_form = _add_rows(QFormLayout(self.pruning), [
            ("Every", every_row), ("First cut", self.first_cut), ("&Variant", self.variant),
            ("&Noise kept f", self.keep_noise), ("f &schedule", self.schedule),
            ("Shrink factor", self.shrink), ("Fit &threshold", self.threshold),
            (None, self.skip_poor), (None, self.factorize), ("Minimum rank", self.min_rank),
            ("BEMA formula", self.formula), ("BEMA α, β", self._pair(self.alpha, self.beta)),
        ])  # fmt: skip

    @staticmethod
    def _pair(first: QWidget, second: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(first)
        row.addWidget(second)
        return row

    def _build_output(self) -> None:
        self.compare = QCheckBox("Then train the unpruned baseline")
        self.compare.setToolTip(
            "The paper's comparison: the same network, seed and data order without pruning, "
            "its curves overlaid and a final table of both"
        )
        self.data_folder = QLineEdit()
        self.data_folder.setReadOnly(True)
        self.data_button = QPushButton("Choose…")
        self.data_button.clicked.connect(self.dataFolderRequested.emit)
        self.out_folder = QLineEdit()
        self.out_folder.setToolTip("Each run gets its own train-DATE-TIME folder in here")
        self.out_button = QPushButton("Choose…")
        self.out_button.clicked.connect(self._choose_output)
        self.rate = _spin(1, 10, SNAPSHOTS_PER_SECOND)
        self.rate.setSuffix(" per second")
        self.rate.setToolTip("How often every layer's spectrum is recomputed (at most)")
        self.output = QGroupBox("Compare, data and output")
        form = QFormLayout(self.output)
        form.addRow(self.compare)
        _folder_row(form, "MNIST &data", self.data_folder, self.data_button)
        _folder_row(form, "&Output", self.out_folder, self.out_button)
        form.addRow("Spectra", self.rate)

    def _choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for training runs", self.out_text)
        if folder:
            self.out_folder.setText(folder)

    @property
    def out_text(self) -> str:
        return self.out_folder.text().strip() or str(user_runs_dir())

    def _source_changed(self) -> None:
        index = self.source.currentIndex()
        self.dims.setEnabled(index <= 0)
        if index > 0:
            self.dims.setText(",".join(str(d) for d in self._models[index - 1][2]))
        else:
            self.dims.setText(self._dims_text)

    def _variant_changed(self) -> None:
        variant = self.variant.currentData()
        self.prune_form.setRowVisible(self.shrink, variant == "shrink")

    def set_models(self, models: list[tuple[str, Any, tuple[int, ...]]]) -> None:
        """Offer these open models ``(title, model, widths)`` to start from; keep the choice."""
        current = self.source.currentText()
        if self.dims.isEnabled():
            self._dims_text = self.dims.text()
        self._models = list(models)
        self.source.blockSignals(True)
        self.source.clear()
        self.source.addItem("a new network", "")
        self.source.setItemData(0, "A new network of the layer widths below", TOOLTIP)
        for index, (title, _model, _dims) in enumerate(models, start=1):
            self.source.addItem(title, title)
            self.source.setItemData(index, f"{title}, from its current step", TOOLTIP)
        self.source.setCurrentIndex(max(self.source.findText(current), 0))
        self.source.blockSignals(False)
        show_choice_tip(self.source)
        self._source_changed()

    def start_model(self) -> Any | None:
        """The open model chosen to start from, or ``None`` for a new network."""
        index = self.source.currentIndex()
        return self._models[index - 1][1] if index > 0 else None

    def set_data_folder(self, folder: Path) -> None:
        self.data_folder.setText(str(folder))

    def prune_config(self) -> PruneConfig | None:
        """The pruning schedule, or ``None`` when pruning is off (the baseline)."""
        if not self.pruning.isChecked():
            return None
        schedule = NoiseSchedule.from_options(self.schedule.text(), self.keep_noise.value())
        steps = self.every_unit.currentData() == "steps"
        return PruneConfig.from_options(
            every_epochs=1 if steps else self.every.value(),
            every_steps=self.every.value() if steps else None,
            first_cut=self.first_cut.currentData(),
            variant=self.variant.currentData(),
            keep_noise=schedule,
            shrink_factor=self.shrink.value(),
            min_rank=self.min_rank.value() or None,
            factorize=self.factorize.isChecked(),
            fit_threshold=self.threshold.value(),
            skip_poor_fit=self.skip_poor.isChecked(),
            alpha=self.alpha.value(),
            beta=self.beta.value(),
            formula=self.formula.currentData(),
        )

    def config(self, data_root: Path, threads: int) -> TrainConfig:
        """The run these settings describe (validated: :class:`ConfigError` otherwise)."""
        config = TrainConfig(
            dims=parse_dims(self.dims.text(), "the layer widths field"),
            epochs=self.epochs.value(),
            lr=self.lr.value(),
            momentum=self.momentum.value(),
            batch_size=self.batch.value(),
            seed=self.seed.value(),
            limit_train=self.limit_train.value() or None,
            limit_test=self.limit_test.value() or None,
            data_root=str(data_root),
            prune=self.prune_config(),
            threads=threads,
        )
        config.validate()
        return config

    def snapshot_policy(self) -> SnapshotPolicy:
        """Spectra of every layer at most ``rate`` times a second, off the training thread."""
        return SnapshotPolicy(max_per_second=float(self.rate.value()), background=True)

    def output_root(self) -> Path:
        return Path(self.out_text).expanduser()

    def options(self) -> TrainSettings:
        """The settings to persist (everything but the model to start from)."""
        return TrainSettings(
            dims=self.dims.text() if self.dims.isEnabled() else self._dims_text,
            epochs=self.epochs.value(), lr=self.lr.value(), momentum=self.momentum.value(),
            batch_size=self.batch.value(), seed=self.seed.value(),
            limit_train=self.limit_train.value(), limit_test=self.limit_test.value(),
            pruning=self.pruning.isChecked(), every=self.every.value(),
            every_unit=self.every_unit.currentData(), first_cut=self.first_cut.currentData(),
            variant=self.variant.currentData(), keep_noise=self.keep_noise.value(),
            schedule=self.schedule.text(), shrink_factor=self.shrink.value(),
            fit_threshold=self.threshold.value(), skip_poor_fit=self.skip_poor.isChecked(),
            factorize=self.factorize.isChecked(), min_rank=self.min_rank.value(),
            formula=self.formula.currentData(), alpha=self.alpha.value(), beta=self.beta.value(),
            compare=self.compare.isChecked(), output=self.out_folder.text(),
            snapshots_per_second=self.rate.value(),
        )  # fmt: skip

    def load(self, options: TrainSettings) -> None:
        """Show ``options`` (a choice this form does not offer shows its first item)."""
        self._dims_text = options.dims
        self.dims.setText(self._dims_text)
        for box, value in (
            (self.epochs, options.epochs), (self.lr, options.lr),
            (self.momentum, options.momentum), (self.batch, options.batch_size),
            (self.seed, options.seed), (self.limit_train, options.limit_train),
            (self.limit_test, options.limit_test), (self.every, options.every),
            (self.keep_noise, options.keep_noise), (self.shrink, options.shrink_factor),
            (self.threshold, options.fit_threshold), (self.min_rank, options.min_rank),
            (self.alpha, options.alpha), (self.beta, options.beta),
            (self.rate, options.snapshots_per_second),
        ):  # fmt: skip
            box.setValue(value)
        for combo, key in (
            (self.every_unit, options.every_unit), (self.first_cut, options.first_cut),
            (self.variant, options.variant), (self.formula, options.formula),
        ):  # fmt: skip
            combo.setCurrentIndex(max(combo.findData(key), 0))
        for check, state in (
            (self.pruning, options.pruning), (self.skip_poor, options.skip_poor_fit),
            (self.factorize, options.factorize), (self.compare, options.compare),
        ):  # fmt: skip
            check.setChecked(state)
        self.compare.setEnabled(self.pruning.isChecked())
        self.schedule.setText(options.schedule)
        self.out_folder.setText(options.output)
        self.out_folder.setPlaceholderText(str(user_runs_dir()))
        self._variant_changed()

    def reset(self) -> None:
        """Back to the paper's settings (folders kept)."""
        self.load(dataclasses.replace(TrainSettings.paper(), output=self.out_folder.text()))
