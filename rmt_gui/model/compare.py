"""Compare two checkpoints of one architecture layer by layer: how every spectral metric moved.

The metrics are whatever numbers a layer's analysis record holds (``LayerAnalysis.to_json``:
``sv_max``, ``n_signal``, ``sigma2``, ``lambda_plus``, ... and any metric added there later), so
a new metric appears here without change. Each change is ``B - A`` and its relative size
``|B - A| / max(|A|, |B|)`` (in ``[0, 1]``, scale-free, so metrics of any unit can be ranked).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rmt_gui.errors import FileError
from rmt_gui.model.analysis import LayerFailure, analyze_layers
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.roles import LayerRole
from rmt_gui.spectral.bema import MIN_RELIABLE_P

NOT_METRICS = frozenset({"params"})
"""Numbers of a record that describe the layer, not its spectrum."""
SHOWN_NAMES = 3


@dataclass(frozen=True)
class MetricChange:
    """One metric of one layer in checkpoints A and B (``None`` where undefined)."""

    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        """``B - A``, ``None`` when either is undefined."""
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def relative(self) -> float | None:
        """``|B - A| / max(|A|, |B|)``: 0 for no change, 1 for a sign flip or from zero."""
        delta = self.delta
        if delta is None or self.a is None or self.b is None:
            return None
        scale = max(abs(self.a), abs(self.b))
        return abs(delta) / scale if scale > 0 else 0.0

    def to_json(self) -> dict[str, float | None]:
        """``{"a", "b", "delta", "relative"}``."""
        return {"a": self.a, "b": self.b, "delta": self.delta, "relative": self.relative}


@dataclass(frozen=True)
class LayerComparison:
    """Every metric of one layer in both checkpoints, and the analyses' notes or errors."""

    info: LayerInfo
    metrics: dict[str, MetricChange]
    good_fit: tuple[bool | None, bool | None]
    problems: tuple[str, ...] = ()

    @property
    def role(self) -> LayerRole:
        """The layer's role and block, for grouping and filtering."""
        return self.info.role

    @property
    def change(self) -> float:
        """The largest relative change of any metric (0 when none is defined in both)."""
        return max(
            (m.relative for m in self.metrics.values() if m.relative is not None), default=0.0
        )

    def abs_delta(self, metric: str) -> float:
        """``|B - A|`` of ``metric``, ``-1`` when undefined (sorts after every real change)."""
        found = self.metrics.get(metric)
        delta = None if found is None else found.delta
        return -1.0 if delta is None else abs(delta)

    def to_json(self) -> dict[str, Any]:
        """The layer's record of ``rmt-gui compare --json``."""
        record = {
            "name": self.info.name,
            "shape": list(self.info.shape),
            "role": self.role.role,
            "block": self.role.block,
            "change": self.change,
            "good_fit": {"a": self.good_fit[0], "b": self.good_fit[1]},
            "metrics": {name: metric.to_json() for name, metric in self.metrics.items()},
        }
        return {**record, "errors": list(self.problems)} if self.problems else record


def _listing(names: list[str]) -> str:
    """A few names, then how many more."""
    more = len(names) - SHOWN_NAMES
    return ", ".join(names[:SHOWN_NAMES]) + (f" and {more} more" if more > 0 else "")


def check_same_architecture(a: Checkpoint, b: Checkpoint) -> None:
    """Refuse, in one line about B, checkpoints whose layer names or shapes differ."""
    shapes_a = {info.name: info.shape for info in a.layers()}
    shapes_b = {info.name: info.shape for info in b.layers()}
    only_a = [name for name in shapes_a if name not in shapes_b]
    only_b = [name for name in shapes_b if name not in shapes_a]
    if only_a or only_b:
        parts = [
            f"lacks {_listing(only_a)}" if only_a else "",
            f"adds {_listing(only_b)}" if only_b else "",
        ]
        raise FileError(
            b.path, f"not the same architecture as {a.path}: {'; '.join(filter(None, parts))}"
        )
    differ = [name for name, shape in shapes_a.items() if shapes_b[name] != shape]
    if differ:
        first = differ[0]
        raise FileError(
            b.path, f"not the same architecture as {a.path}: {first} is "
            f"{'x'.join(map(str, shapes_b[first]))} here, {'x'.join(map(str, shapes_a[first]))} "
            f"there{f' ({len(differ) - 1} more layers differ)' if len(differ) > 1 else ''}"
        )  # fmt: skip


def _records(checkpoint: Checkpoint, names: list[str] | None) -> Iterator[dict[str, Any]]:
    """Each layer's analysis record (``{"name", "error"}`` for a layer that failed)."""
    for result in analyze_layers(checkpoint, names, min_fit_p=MIN_RELIABLE_P):
        if isinstance(result, LayerFailure):
            yield {"name": result.info.name, "error": result.problem}
        else:
            yield result.to_json()


def _is_metric(key: str, value: object) -> bool:
    """A number of a record (not a flag, a list or a descriptive count)."""
    return key not in NOT_METRICS and type(value) in (int, float)


def _metric_names(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The metrics either record defines, in record order."""
    keys = dict.fromkeys([*a, *b])
    return [k for k in keys if _is_metric(k, a.get(k)) or _is_metric(k, b.get(k))]


def _number(value: object) -> float | None:
    """A metric's value (a count stays an ``int``), ``None`` when undefined."""
    return value if type(value) is int or type(value) is float else None


def _compare_records(info: LayerInfo, a: dict[str, Any], b: dict[str, Any]) -> LayerComparison:
    """One layer's comparison from its two analysis records."""
    metrics = {
        name: MetricChange(_number(a.get(name)), _number(b.get(name)))
        for name in _metric_names(a, b)
    }
    problems = tuple(
        f"{side}: {rec['error']}" for side, rec in (("A", a), ("B", b)) if "error" in rec
    )
    return LayerComparison(info, metrics, (a.get("good_fit"), b.get("good_fit")), problems)


def compare_checkpoints(
    a: Checkpoint, b: Checkpoint, names: list[str] | None = None, sort_by: str | None = None
) -> list[LayerComparison]:
    """Analyse both checkpoints layer by layer and compare them, largest change first.

    ``sort_by`` ranks by ``|B - A|`` of that metric instead of the largest relative change.
    The architectures must match (:func:`check_same_architecture`).
    """
    check_same_architecture(a, b)
    records_b = {record["name"]: record for record in _records(b, names)}
    layers = [
        _compare_records(a.layer(rec_a["name"]), rec_a, records_b[rec_a["name"]])
        for rec_a in _records(a, names)
    ]
    key = (lambda c: c.change) if sort_by is None else (lambda c: c.abs_delta(sort_by))
    return sorted(layers, key=key, reverse=True)


def metric_names(layers: list[LayerComparison]) -> list[str]:
    """Every metric any compared layer has, in first-seen order."""
    return list(dict.fromkeys(name for layer in layers for name in layer.metrics))
