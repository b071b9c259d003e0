"""Settings of a training run (frozen, JSON-able, torch-free): model, optimiser, pruning, spectra.

Defaults are the paper's experiment (docs/method.md §5): MLP 784-1000-10, SGD lr 0.08 momentum 0.9,
batch 128, 10 epochs, a cut at the start of every epoch keeping all BEMA spikes plus 45% of the
noise values, factorising when that saves parameters, skipping layers the MP law fits poorly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from rmt_gui.errors import RmtGuiError, one_line
from rmt_gui.model.device import DEVICE_CHOICES
from rmt_gui.model.rule import PAPER_KEEP_NOISE, PruneRule
from rmt_gui.spectral.bema import BemaResult
from rmt_gui.spectral.spectrum import Spectrum

PruneVariant = Literal["keep", "truncate", "shrink", "random"]
VARIANTS: tuple[PruneVariant, ...] = ("keep", "truncate", "shrink", "random")
VARIANT_HELP = {
    "keep": "signal + a fraction of noise, factorised when smaller (notebook alg 0)",
    "truncate": "same ranks as keep, shapes unchanged (alg 1)",
    "shrink": "multiply noise singular values by the shrink factor (alg 2)",
    "random": "signal + a seeded random subset of noise directions (alg 3)",
}
FirstCut = Literal["start", "end"]
PAPER_TRAIN_RULE = PruneRule(factorize="if_smaller", skip_poor_fit=True)
"""The paper's cut: every BEMA spike plus 45% of the noise values, factorised when that saves
parameters, poorly fitted layers left alone (``rmt-gui prune`` does neither unless asked)."""


class ConfigError(RmtGuiError):
    """A training setting is out of range or malformed."""


def parse_dims(text: str, what: str) -> tuple[int, ...]:
    """Layer widths ``"784,1000,10"`` (spaces allowed); ``what`` names the option in errors."""
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(","))
    except ValueError as exc:
        raise ConfigError(f"{what} needs comma-separated integers, got {text!r}") from exc


@dataclass(frozen=True)
class NoiseSchedule:
    """Fraction ``f`` of noise singular values kept at each epoch's cut.

    ``constant`` uses ``values[0]``; ``linear`` goes from ``values[0]`` at epoch 1 to
    ``values[1]`` at the last epoch; ``list`` gives one value per epoch (the last one holds after).
    """

    kind: Literal["constant", "linear", "list"] = "constant"
    values: tuple[float, ...] = (PAPER_KEEP_NOISE,)

    def __post_init__(self) -> None:
        needed = {"constant": 1, "linear": 2}.get(self.kind)
        if self.kind not in ("constant", "linear", "list"):
            raise ConfigError(f"unknown noise schedule {self.kind!r}")
        if (needed and len(self.values) != needed) or not self.values:
            raise ConfigError(f"a {self.kind} noise schedule needs {needed or 'some'} value(s)")
        if not all(0.0 <= v <= 1.0 for v in self.values):
            raise ConfigError(f"noise fractions must be in [0, 1], got {list(self.values)}")

    @classmethod
    def parse(cls, text: str) -> NoiseSchedule:
        """``"0.45"``, ``"linear:0.2:0.6"`` or a per-epoch list ``"0.2,0.3,0.45"``."""
        try:
            if text.startswith("linear:"):
                start, stop = text.removeprefix("linear:").split(":")
                return cls("linear", (float(start), float(stop)))
            values = tuple(float(v) for v in text.split(","))
        except ValueError as exc:
            raise ConfigError(
                f"cannot read noise schedule {text!r} (use 0.45, linear:0.2:0.6 or 0.2,0.3,0.45)"
            ) from exc
        return cls("constant", values) if len(values) == 1 else cls("list", values)

    @classmethod
    def from_options(cls, text: str | None, keep_noise: float) -> NoiseSchedule:
        """A schedule written as ``text`` when one is given, else constant ``keep_noise``."""
        text = (text or "").strip()
        return cls.parse(text) if text else cls("constant", (keep_noise,))

    def at(self, epoch: int, epochs: int) -> float:
        """``f`` for 1-based ``epoch`` of ``epochs``."""
        if self.kind == "constant":
            return self.values[0]
        if self.kind == "linear":
            t = (epoch - 1) / (epochs - 1) if epochs > 1 else 0.0
            return self.values[0] + (self.values[1] - self.values[0]) * min(max(t, 0.0), 1.0)
        return self.values[min(epoch, len(self.values)) - 1]

    def describe(self) -> str:
        """``0.45``, ``linear:0.2:0.6`` or ``0.2,0.3``: the form :meth:`parse` reads."""
        prefix = "linear:" if self.kind == "linear" else ""
        sep = ":" if self.kind == "linear" else ","
        return prefix + sep.join(f"{v:g}" for v in self.values)


@dataclass(frozen=True)
class PruneConfig:
    """When and how to cut: a :class:`PruneRule`, its timing and the trainer's own variants.

    A cut happens every ``every_epochs`` epochs, or every ``every_steps`` steps if set.
    ``first_cut="start"`` cuts at step 0 (the random initialisation, as the notebook does) and
    then every period; ``"end"`` waits one period, so the first cut acts on a trained network.
    A cut falls between an epoch's evaluation and the next epoch's first step, never after the
    last step. ``schedule`` changes ``f`` from cut to cut (``None``: the rule's ``keep_noise``
    at every cut). ``random_subset`` keeps the spikes plus a random subset of noise directions
    instead of the top ones; ``seed=None`` draws it from the run's seed (from its own generator,
    so the data order does not change). Checked when built (:class:`ConfigError`, or
    :class:`RuleError` for the rule).
    """

    every_epochs: int = 1
    every_steps: int | None = None
    first_cut: FirstCut = "start"
    rule: PruneRule = PAPER_TRAIN_RULE
    schedule: NoiseSchedule | None = None
    random_subset: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_options(
        cls,
        *,
        variant: PruneVariant = "keep",
        keep_noise: NoiseSchedule | None = None,
        factorize: bool = True,
        skip_poor_fit: bool = True,
        every_epochs: int = 1,
        every_steps: int | None = None,
        first_cut: FirstCut = "start",
        seed: int | None = None,
        **rule: Any,
    ) -> PruneConfig:
        """The config the trainer's options describe (command line, Train tab, run logs).

        ``variant`` picks the rule: ``keep`` or ``random`` (BEMA ranks, factorised when
        ``factorize`` and smaller), ``truncate`` (same ranks, shapes kept) or ``shrink``; ``rule``
        holds the other :class:`PruneRule` fields (``shrink_factor``, ``min_rank``, ``alpha``…).
        """
        if variant not in VARIANTS:
            raise ConfigError(f"unknown pruning variant {variant!r} (choose from {VARIANTS})")
        schedule = keep_noise or NoiseSchedule()
        split = factorize and variant in ("keep", "random")
        built = PruneRule(
            method="shrink" if variant == "shrink" else "bema",
            keep_noise=schedule.values[0],
            factorize="if_smaller" if split else "never",
            skip_poor_fit=skip_poor_fit,
            **rule,
        )
        return cls(
            every_epochs, every_steps, first_cut, built,
            None if schedule.kind == "constant" else schedule, variant == "random", seed,
        )  # fmt: skip

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> PruneConfig:
        """The config :meth:`to_json` wrote (as stored in ``run.json`` and checkpoints)."""
        fields = dict(record)
        keep_noise = NoiseSchedule.parse(str(fields.pop("keep_noise", PAPER_KEEP_NOISE)))
        try:
            return cls.from_options(keep_noise=keep_noise, **fields)
        except TypeError as exc:
            raise ConfigError(f"unreadable pruning settings: {one_line(exc)}") from exc

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a setting out of range (the rule checks itself)."""
        if self.every_epochs < 1:
            raise ConfigError(f"prune-every must be at least 1 epoch, got {self.every_epochs}")
        if self.every_steps is not None and self.every_steps < 1:
            raise ConfigError(f"prune-every-steps must be at least 1, got {self.every_steps}")
        if self.first_cut not in ("start", "end"):
            raise ConfigError(f"first cut must be 'start' or 'end', got {self.first_cut!r}")
        if self.rule.method not in ("bema", "shrink"):
            raise ConfigError(f"training cuts by BEMA or shrink, not {self.rule.method!r}")
        if self.random_subset and self.rule.method != "bema":
            raise ConfigError("the random variant draws noise directions for the BEMA rule only")

    @property
    def keep_noise(self) -> NoiseSchedule:
        """``f`` at each cut: the schedule, else the rule's ``keep_noise`` throughout."""
        return self.schedule or NoiseSchedule("constant", (self.rule.keep_noise,))

    @property
    def variant(self) -> PruneVariant:
        """The notebook's name for this cut (``keep`` without factorising is ``truncate``)."""
        if self.rule.method == "shrink":
            return "shrink"
        if self.random_subset:
            return "random"
        return "truncate" if self.rule.factorize == "never" else "keep"

    def rule_at(self, keep_noise: float) -> PruneRule:
        """The rule of one cut, keeping the fraction ``keep_noise`` of the noise values."""
        return replace(self.rule, keep_noise=keep_noise)

    def fit(self, spectrum: Spectrum) -> BemaResult:
        """The BEMA fit of one layer's spectrum with the rule's settings."""
        return self.rule.fit(spectrum)

    def cut_steps(self, steps_per_epoch: int, total_steps: int) -> frozenset[int]:
        """Step boundaries (optimiser steps done) at which a cut happens."""
        period = self.every_steps or self.every_epochs * steps_per_epoch
        first = 0 if self.first_cut == "start" else period
        return frozenset(range(first, total_steps, period))

    def describe(self) -> str:
        """One line for logs and checkpoint history."""
        when = f"every {self.every_steps} steps" if self.every_steps else (
            f"every {self.every_epochs} epoch(s)"
        )  # fmt: skip
        return (
            f"{self.variant} (f={self.keep_noise.describe()}), {when}, first cut at "
            f"{self.first_cut}, fit threshold {self.rule.fit_threshold:g}"
        )

    def to_json(self) -> dict[str, Any]:
        """The options :meth:`from_json` reads back: plain JSON types, ``f`` as its text."""
        rule = self.rule
        return {
            "every_epochs": self.every_epochs, "every_steps": self.every_steps,
            "first_cut": self.first_cut, "variant": self.variant,
            "keep_noise": self.keep_noise.describe(), "shrink_factor": rule.shrink_factor,
            "min_rank": rule.min_rank, "factorize": rule.factorize != "never",
            "fit_threshold": rule.fit_threshold, "skip_poor_fit": rule.skip_poor_fit,
            "alpha": rule.alpha, "beta": rule.beta, "formula": rule.formula, "seed": self.seed,
        }  # fmt: skip


MAX_EPOCHS = 10_000
MAX_SEED = 2**63 - 1
TRAIN_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "dims": (list,), "epochs": (int,), "lr": (float,), "momentum": (float,),
    "batch_size": (int,), "seed": (int,), "limit_train": (int, type(None)),
    "limit_test": (int, type(None)), "data_root": (str, type(None)),
    "prune": (dict, type(None)), "threads": (int, type(None)), "device": (str,),
}  # fmt: skip


def _json_value(name: str, value: object) -> Any:
    """``value`` of training setting ``name`` if it has the right JSON type (ints for floats
    allowed, booleans never numbers), else :class:`ConfigError`."""
    kinds = TRAIN_JSON_TYPES[name]
    if float in kinds and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    fits = isinstance(value, kinds) and not (isinstance(value, bool) and int in kinds)
    if name == "dims":
        fits = isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
    if not fits:
        wanted = " or ".join("null" if kind is type(None) else kind.__name__ for kind in kinds)
        raise ConfigError(f"training setting {name!r} must be {wanted}, got {str(value)[:40]!r}")
    return value


@dataclass(frozen=True)
class TrainConfig:
    """One training run; ``prune=None`` is the unpruned baseline.

    ``dims`` builds a fresh MLP (ignored when the trainer is given a model to continue);
    ``threads=None`` leaves torch's thread count to the caller (the app keeps a core for its UI).
    ``device`` (``auto``, ``cpu`` or ``cuda``, :func:`~rmt_gui.model.device.resolve_device`) is
    where the model and batches live; cuts and snapshots always fit on CPU copies.
    """

    dims: tuple[int, ...] = (784, 1000, 10)
    epochs: int = 10
    lr: float = 0.08
    momentum: float = 0.9
    batch_size: int = 128
    seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None
    data_root: str | None = None
    prune: PruneConfig | None = field(default_factory=PruneConfig)
    threads: int | None = None
    device: str = "cpu"

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a setting out of range."""
        if len(self.dims) < 2 or any(d < 1 for d in self.dims):
            raise ConfigError(f"dims need at least two positive widths, got {list(self.dims)}")
        if self.dims[0] != 784 or self.dims[-1] != 10:
            raise ConfigError(f"MNIST needs dims from 784 to 10, got {list(self.dims)}")
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}")
        if self.epochs > MAX_EPOCHS:
            raise ConfigError(f"epochs must be at most {MAX_EPOCHS:,}, got {self.epochs}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be between 0 and 2**63 - 1, got {self.seed}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"learning rate must be positive, got {self.lr}")
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {self.batch_size}")
        for name in ("limit_train", "limit_test"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {value}")
        self._validate_machine()
        if self.prune is not None:
            self.prune.validate()

    def _validate_machine(self) -> None:
        """Raise :class:`ConfigError` for a thread count or device that cannot be."""
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be at least 1, got {self.threads}")
        if self.device not in DEVICE_CHOICES:
            choices = ", ".join(DEVICE_CHOICES)
            raise ConfigError(f"device must be one of {choices}, got {self.device!r}")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types (stored in run logs and checkpoint metadata)."""
        record = asdict(self)
        record["dims"] = list(self.dims)
        if self.prune is not None:
            record["prune"] = self.prune.to_json()
        return record

    def same_run(self, other: TrainConfig) -> bool:
        """Whether ``other`` trains the same way (threads, device and the data folder may
        differ): what a resumed run must keep."""
        loose: dict[str, Any] = {"threads": None, "data_root": None, "device": "cpu"}
        return replace(self, **loose) == replace(other, **loose)

    @classmethod
    def from_json(cls, record: object) -> TrainConfig:
        """The config :meth:`to_json` wrote (in a checkpoint), checked field by field.

        Missing fields take their defaults; an unknown or mistyped one is a :class:`ConfigError`.
        """
        if not isinstance(record, dict):
            raise ConfigError("the training settings are not a JSON object")
        unknown = sorted(str(key) for key in record if key not in TRAIN_JSON_TYPES)
        if unknown:
            raise ConfigError(f"unknown training setting {unknown[0][:40]!r}")
        values = {name: _json_value(name, value) for name, value in record.items()}
        if "dims" in values:
            values["dims"] = tuple(values["dims"])
        if values.get("prune") is not None:
            values["prune"] = PruneConfig.from_json(values["prune"])
        config = cls(**values)
        config.validate()
        return config


@dataclass(frozen=True)
class SnapshotPolicy:
    """How often the run yields spectrum snapshots; the consumer chooses.

    A periodic snapshot is due every ``every_steps`` steps and, if ``max_per_second`` is set,
    only when the rate gate lets it through (checked before any weight is read, so a throttled
    snapshot costs nothing); with only ``max_per_second`` it is tried at every step. With
    ``background`` the spectra are computed on a helper thread from a copy of the weights, so
    training does not wait (a request made while one is pending replaces it); without, they are
    computed in line and every due snapshot is delivered. One snapshot is taken at step 0 and
    after every cut when periodic snapshots are on, and a ``final`` one always, unless disabled.
    """

    every_steps: int | None = None
    max_per_second: float | None = None
    background: bool = True
    final: bool = True

    @property
    def periodic(self) -> bool:
        return self.every_steps is not None or self.max_per_second is not None

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a setting out of range."""
        if self.every_steps is not None and self.every_steps < 1:
            raise ConfigError(f"snapshot-every must be at least 1 step, got {self.every_steps}")
        if self.max_per_second is not None and not self.max_per_second > 0:
            raise ConfigError(f"snapshot rate must be positive, got {self.max_per_second}")
