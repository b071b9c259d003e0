"""What a pruning preview really changes, layer by layer, against the current ranks.

A rule may ask for more singular values than a layer still has (BEMA on a layer truncated
earlier asks for 250 of its 245); keeping them all changes nothing. The rows here cap the kept
rank at the current one, and count a layer as changed only when its rank drops or it is split
into two factors, so the summary and the Apply button agree with what applying does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rmt_gui.model.pruning import LayerPlan


@dataclass(frozen=True)
class PreviewRow:
    """One layer of a preview: its plan with the kept rank capped, and whether it changes."""

    plan: LayerPlan
    rank_before: int

    @property
    def rank_after(self) -> int:
        """The rank the layer keeps once the preview is applied."""
        return self.plan.rank

    @property
    def changed(self) -> bool:
        """Whether applying alters this layer (a lower rank, or a split into two factors)."""
        plan = self.plan
        return not plan.skipped and (plan.rank < self.rank_before or plan.factorize)

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


def _capped(plan: LayerPlan, rank: int) -> LayerPlan:
    """``plan`` keeping at most ``rank`` values; a split that no longer saves is dropped."""
    if plan.rank <= rank:
        return plan
    out_dim, in_dim = plan.shape
    bias = plan.params_before - out_dim * in_dim
    split_params = rank * (out_dim + in_dim) + bias
    factorize = plan.factorize and split_params < plan.params_before
    after = split_params if factorize else plan.params_before
    return replace(plan, rank=rank, factorize=factorize, params_after=after)


def preview_rows(plans: tuple[LayerPlan, ...], ranks: dict[str, int]) -> tuple[PreviewRow, ...]:
    """A row per plan, capped at the layer's current rank (``ranks``; else its smaller side)."""
    rows = []
    for plan in plans:
        current = ranks.get(plan.layer, min(plan.shape))
        rows.append(PreviewRow(_capped(plan, current), current))
    return tuple(rows)


@dataclass(frozen=True)
class PreviewSummary:
    """Totals of a preview: parameters before and after, and how many layers change."""

    params_before: int
    params_after: int
    changed: int
    layers: int

    @property
    def share(self) -> float:
        """Percentage of the parameters kept."""
        return 100.0 * self.params_after / self.params_before if self.params_before else 100.0


def summarize(rows: tuple[PreviewRow, ...], params_before: int) -> PreviewSummary:
    """The model's parameters once the changed rows are applied, and the counts."""
    changed = [row for row in rows if row.changed]
    saved = sum(row.plan.params_before - row.plan.params_after for row in changed)
    return PreviewSummary(params_before, params_before - saved, len(changed), len(rows))


def plans_to_apply(rows: tuple[PreviewRow, ...]) -> tuple[LayerPlan, ...]:
    """The capped plans of the layers that change (applying the others would be a no-op)."""
    return tuple(row.plan for row in rows if row.changed)
