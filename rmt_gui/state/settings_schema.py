"""The app's saved options as frozen dataclasses: defaults, valid values, versions, migration.

One JSON document holds every group: ``{"version": 1, "view": {...}, "train": {...},
"files": {...}}``.
Reading never fails and never resets more than it must: unknown keys are ignored, and a value
of the wrong type (or outside a :func:`~rmt_gui.state.bounds.bounded` field's range) keeps that
field's default, so a hand-edited or older file costs at most the fields it got wrong. A
document of an older version is brought up to :data:`SETTINGS_VERSION` by :data:`MIGRATIONS`
first. Version 0 is what the app wrote before the schema: the ``view`` and ``train`` objects as
two separate settings, no version number. Qt-free: :mod:`rmt_gui.ui.settings` keeps the
document in QSettings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import Field, asdict, dataclass, field, fields, is_dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from rmt_gui.state.bounds import bounds_of
from rmt_gui.state.plot_data import PlotOptions

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
    from typing_extensions import TypeIs

SETTINGS_VERSION = 1
SNAPSHOTS_PER_SECOND = 5
INT_RANGE = (-(2**31), 2**31 - 1)
INVALID = object()

T = TypeVar("T")


@dataclass(frozen=True)
class PruneSettings:
    """The prune panel's rule and scope (``min_rank=0``: the network's output width)."""

    method: str = "bema"
    keep_noise: float = 0.45  # rmt_gui.model.rule.PAPER_KEEP_NOISE (that module loads scipy)
    rank: int = 50
    energy: float = 0.9
    shrink_factor: float = 0.5
    min_rank: int = 0
    factorize: bool = True
    skip_poor_fit: bool = False
    scope: Literal["all", "selected"] = "all"


@dataclass(frozen=True)
class ViewSettings:
    """How a newly opened file is shown: plot options, prune panel, evaluation and sweep sizes."""

    plot: PlotOptions = field(default_factory=PlotOptions)
    prune: PruneSettings = field(default_factory=PruneSettings)
    eval_count: int = 10_000
    sweep_points: int = 16
    sweep_log: bool = True


@dataclass(frozen=True)
class TrainSettings:
    """The Train tab's form (``0`` limits: all images; ``output=""``: the default runs folder).

    The defaults are the paper's run, taken from :class:`rmt_gui.jobs.config.TrainConfig` and
    ``PruneConfig`` by :meth:`paper` (imported only then: it pulls in the spectral core).
    """

    dims: str
    epochs: int
    lr: float
    momentum: float
    batch_size: int
    seed: int
    limit_train: int
    limit_test: int
    pruning: bool
    every: int
    every_unit: Literal["epochs", "steps"]
    first_cut: str
    variant: str
    keep_noise: float
    schedule: str
    shrink_factor: float
    fit_threshold: float
    skip_poor_fit: bool
    factorize: bool
    min_rank: int
    formula: str
    alpha: float
    beta: float
    compare: bool
    output: str
    snapshots_per_second: int

    @classmethod
    def paper(cls) -> TrainSettings:
        """The paper's experiment, pruning on, no baseline, every image, the default folder."""
        from rmt_gui.jobs.config import PruneConfig, TrainConfig

        run, cut = TrainConfig(), PruneConfig()
        rule = cut.rule
        return cls(
            dims=",".join(str(d) for d in run.dims), epochs=run.epochs, lr=run.lr,
            momentum=run.momentum, batch_size=run.batch_size, seed=run.seed,
            limit_train=0, limit_test=0, pruning=True, every=cut.every_epochs,
            every_unit="epochs", first_cut=cut.first_cut, variant=cut.variant,
            keep_noise=cut.keep_noise.values[0], schedule="", shrink_factor=rule.shrink_factor,
            fit_threshold=rule.fit_threshold, skip_poor_fit=rule.skip_poor_fit,
            factorize=rule.factorize != "never", min_rank=0, formula=rule.formula,
            alpha=rule.alpha, beta=rule.beta, compare=False, output="",
            snapshots_per_second=SNAPSHOTS_PER_SECOND,
        )  # fmt: skip


@dataclass(frozen=True)
class FileSettings:
    """Where save dialogs (export, report, plot image) open: the folder last chosen in one
    (``""``: none yet)."""

    save_folder: str = ""


def _from_version_0(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 0 called the Train tab's pruning switch ``prune``; it is ``pruning`` now."""
    train = doc.get("train")
    if isinstance(train, dict) and "prune" in train:
        train = {("pruning" if key == "prune" else key): value for key, value in train.items()}
    return {**doc, "train": train, "version": 1}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _from_version_0}
SECTIONS: dict[str, type] = {"view": ViewSettings, "train": TrainSettings, "files": FileSettings}


def migrate(raw: object) -> dict[str, Any]:
    """A settings document of any version (or anything else) as one of the current version.

    A missing or unreadable version number means version 0; a newer one is read as it is.
    """
    doc = dict(raw) if isinstance(raw, dict) else {}
    version = doc.get("version")
    version = version if type(version) is int and version >= 0 else 0
    while version in MIGRATIONS:
        doc = MIGRATIONS[version](doc)
        version += 1
    return doc


def read(cls: type[T], raw: object, defaults: T) -> T:
    """``defaults`` with each field of ``raw`` (a JSON object) that has the right type and range."""
    changes = {
        name: read(kind, value, getattr(defaults, name)) if _is_section(kind) else value
        for name, kind, value in _valid_items(cls, raw)
    }
    return replace(defaults, **changes)  # type: ignore[type-var]


def clean(cls: type, raw: object) -> dict[str, Any]:
    """The fields of ``raw`` that :func:`read` would take (unknown keys, wrong values left out)."""
    return {
        name: clean(kind, value) if _is_section(kind) else value
        for name, kind, value in _valid_items(cls, raw)
    }


def _is_section(kind: object) -> TypeIs[type[DataclassInstance]]:
    """Whether a field's type ``kind`` is a nested settings dataclass (not an instance of one)."""
    return isinstance(kind, type) and is_dataclass(kind)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _valid_items(cls: type, raw: object) -> list[tuple[str, Any, Any]]:
    """``(name, type, value)`` of each field of ``cls`` given a valid value in ``raw``."""
    if not isinstance(raw, dict):
        return []
    items = []
    for item in fields(cls):
        kind = _hints(cls)[item.name]
        value = _checked(kind, raw.get(item.name, INVALID), item)
        if value is not INVALID:
            items.append((item.name, kind, value))
    return items


def _checked(kind: Any, raw: object, item: Field[Any]) -> Any:
    """``raw`` as a value of a field of type ``kind`` (a dataclass: any object), or ``INVALID``."""
    if is_dataclass(kind):
        return raw if isinstance(raw, dict) else INVALID
    if get_origin(kind) is Literal:
        return raw if any(raw == a and type(raw) is type(a) for a in get_args(kind)) else INVALID
    if kind is bool or kind is str:
        return raw if type(raw) is kind else INVALID
    return _number(kind, raw, bounds_of(item))


def _number(kind: Any, raw: object, limits: tuple[float, float] | None) -> Any:
    """``raw`` as a value of an ``int`` or ``float`` field within ``limits``, or ``INVALID``.

    An ``int`` field takes integral numbers that fit in 32 bits (a spin box's range) unless
    its limits say otherwise; a ``float`` field takes any finite number.
    """
    if kind not in (int, float) or type(raw) not in (int, float):
        return INVALID
    try:
        value: float = float(raw)  # type: ignore[arg-type]
    except OverflowError:
        return INVALID
    if not math.isfinite(value) or (kind is int and not value.is_integer()):
        return INVALID
    if kind is int:
        value, limits = int(value), limits or INT_RANGE
    low, high = limits or (-math.inf, math.inf)
    return value if low <= value <= high else INVALID


def with_section(doc: dict[str, Any], name: str, settings: object) -> dict[str, Any]:
    """A current-version document: group ``name`` is ``settings`` (a dataclass), the other
    groups of ``doc`` keep their valid fields, anything else is dropped."""
    groups = {key: clean(cls, doc.get(key)) for key, cls in SECTIONS.items()}
    return {"version": SETTINGS_VERSION, **groups, name: asdict(settings)}  # type: ignore[call-overload]


def decode(text: object) -> object:
    """The JSON value in ``text``; ``{}`` when it is not a string of valid JSON."""
    if not isinstance(text, str):
        return {}
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return {}


def encode(doc: dict[str, Any]) -> str:
    """A document made by :func:`with_section` as compact, strict JSON."""
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)
