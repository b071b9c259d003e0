"""What a pruning preview changes, layer by layer, in the words its table and summary share.

The planner (:func:`rmt_gui.model.pruning.plan_layer`) is the one source of the numbers: it
caps the kept rank at the layer's current one (BEMA on a layer truncated earlier may ask for 250
of its 245 values) and splits a layer only when it also drops values. A row is ``changed``
exactly when its rank goes down, so the summary, the notes and the Apply button agree with what
applying does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rmt_gui.model.pruning import LayerPlan


@dataclass(frozen=True)
class PreviewRow:
    """One layer of a preview: its plan, and how the table and summary describe it."""

    plan: LayerPlan

    @property
    def rank_before(self) -> int:
        """The layer's numerical rank now."""
        return self.plan.rank_before

    @property
    def rank_after(self) -> int:
        """The rank the layer keeps once the preview is applied (never above ``rank_before``)."""
        return self.plan.rank

    @property
    def changed(self) -> bool:
        """Whether applying alters this layer (its rank drops, maybe split into two factors)."""
        return not self.plan.skipped and self.rank_after < self.rank_before

    @property
    def note(self) -> str:
        """Why it is left alone, ``factorised``, ``unchanged``, and ``poor fit`` when so."""
        plan = self.plan
        if plan.skipped:
            return plan.skipped
        parts = ["factorised" if plan.factorize else "" if self.changed else "unchanged"]
        if not plan.good_fit:
            parts.append("poor fit")
        return ", ".join(filter(None, parts))


def preview_rows(plans: tuple[LayerPlan, ...]) -> tuple[PreviewRow, ...]:
    """A row per plan, in the plans' order."""
    return tuple(PreviewRow(plan) for plan in plans)


@dataclass(frozen=True)
class PreviewSummary:
    """Totals of a preview: parameters before and after, how many layers change (and split)."""

    params_before: int
    params_after: int
    changed: int
    layers: int
    factorised: int

    @property
    def share(self) -> float:
        """Percentage of the parameters kept."""
        return 100.0 * self.params_after / self.params_before if self.params_before else 100.0


def summarize(rows: tuple[PreviewRow, ...], params_before: int) -> PreviewSummary:
    """The model's parameters once the changed rows are applied, and the counts."""
    changed = [row for row in rows if row.changed]
    saved = sum(row.plan.params_before - row.plan.params_after for row in changed)
    split = sum(row.plan.factorize for row in changed)
    return PreviewSummary(params_before, params_before - saved, len(changed), len(rows), split)


def plans_to_apply(rows: tuple[PreviewRow, ...]) -> tuple[LayerPlan, ...]:
    """The plans of the layers that change (applying the others would be a no-op)."""
    return tuple(row.plan for row in rows if row.changed)
