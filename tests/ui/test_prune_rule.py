"""The Prune panel builds the same checked :class:`PruneRule` as ``rmt-gui prune``."""

from __future__ import annotations

import pytest

from rmt_gui.model.rule import PruneRule, RuleError
from rmt_gui.state.settings_schema import PruneSettings
from rmt_gui.ui.prune_panel import PrunePanel
from tests.helpers.app_window import WAIT_MS, open_and_wait


def test_the_panel_rule_is_the_shared_rule(qtbot) -> None:
    panel = PrunePanel(PruneSettings(keep_noise=0.3, min_rank=0, factorize=True))
    qtbot.addWidget(panel)
    expected = PruneRule(
        "bema", keep_noise=0.3, rank=50, energy=0.9, shrink_factor=0.5, factorize="if_smaller"
    )
    assert panel.rule() == expected
    assert panel.rule().min_rank is None
    panel.min_rank.setValue(7)
    assert panel.rule().min_rank == 7


def test_a_value_the_rule_refuses_is_a_rule_error(qtbot) -> None:
    panel = PrunePanel(PruneSettings(method="energy"))
    qtbot.addWidget(panel)
    panel.energy.setMinimum(0.0)
    panel.energy.setValue(0.0)
    with pytest.raises(RuleError, match=r"^--energy must be in \(0, 1\], got 0$"):
        panel.rule()


def test_the_preview_says_why_a_rule_is_refused(qtbot, window, model_files) -> None:
    view = open_and_wait(qtbot, window, model_files["small"])
    prune = view.prune
    prune.energy.setMinimum(0.0)
    prune.method_box.setCurrentIndex(prune.method_box.findData("energy"))
    prune.energy.setValue(0.0)
    expected = "Cannot preview: --energy must be in (0, 1], got 0"
    qtbot.waitUntil(lambda: prune.totals.text() == expected, timeout=WAIT_MS)
    assert not prune.apply_button.isEnabled() and prune.table.rowCount() == 0
