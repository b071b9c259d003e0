"""Settings of a training run (frozen, JSON-able, torch-free): model, optimiser, pruning, spectra.

Defaults are the paper's experiment (GUIDE §1): MLP 784-1000-10, SGD lr 0.08 momentum 0.9,
batch 128, 10 epochs, a cut at the start of every epoch keeping all BEMA spikes plus 45% of the
noise values, factorising when that saves parameters, skipping layers the MP law fits poorly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rmt_gui.errors import RmtGuiError
from rmt_gui.spectral.bema import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    GOOD_FIT_THRESHOLD,
    BemaResult,
    Variant,
    bema_fit,
)
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
PAPER_KEEP_NOISE = 0.45


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
    """When and how to cut: every ``every_epochs`` epochs, or every ``every_steps`` steps if set.

    ``first_cut="start"`` cuts at step 0 (the random initialisation, as the notebook does) and
    then every period; ``"end"`` waits one period, so the first cut acts on a trained network.
    A cut falls between an epoch's evaluation and the next epoch's first step, never after the
    last step. ``min_rank=None`` means the network's output width. ``seed=None`` uses the run's
    seed for the random variant (from its own generator, so the data order does not change).
    """

    every_epochs: int = 1
    every_steps: int | None = None
    first_cut: FirstCut = "start"
    variant: PruneVariant = "keep"
    keep_noise: NoiseSchedule = field(default_factory=NoiseSchedule)
    shrink_factor: float = 0.5
    min_rank: int | None = None
    factorize: bool = True
    fit_threshold: float = GOOD_FIT_THRESHOLD
    skip_poor_fit: bool = True
    alpha: float = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    formula: Variant = "paper"
    seed: int | None = None

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a setting out of range."""
        if self.every_epochs < 1:
            raise ConfigError(f"prune-every must be at least 1 epoch, got {self.every_epochs}")
        if self.every_steps is not None and self.every_steps < 1:
            raise ConfigError(f"prune-every-steps must be at least 1, got {self.every_steps}")
        if self.first_cut not in ("start", "end"):
            raise ConfigError(f"first cut must be 'start' or 'end', got {self.first_cut!r}")
        if self.variant not in VARIANTS:
            raise ConfigError(f"unknown pruning variant {self.variant!r} (choose from {VARIANTS})")
        if not 0.0 <= self.shrink_factor <= 1.0:
            raise ConfigError(f"shrink factor must be in [0, 1], got {self.shrink_factor}")
        if self.min_rank is not None and self.min_rank < 1:
            raise ConfigError(f"min rank must be at least 1, got {self.min_rank}")
        if not self.fit_threshold > 0.0:
            raise ConfigError(f"fit threshold must be positive, got {self.fit_threshold}")
        if not 0.0 <= self.alpha < 0.5 or not 0.0 < self.beta < 1.0:
            raise ConfigError(
                f"need 0 <= alpha < 0.5 and 0 < beta < 1, got {self.alpha}, {self.beta}"
            )
        if self.formula not in ("paper", "notebook"):
            raise ConfigError(f"BEMA formula must be 'paper' or 'notebook', got {self.formula!r}")

    def fit(self, spectrum: Spectrum) -> BemaResult:
        """The BEMA fit of one layer's spectrum with these settings."""
        return bema_fit(
            spectrum, self.alpha, self.beta, self.formula, good_fit_threshold=self.fit_threshold
        )

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
            f"{self.first_cut}, fit threshold {self.fit_threshold:g}"
        )


@dataclass(frozen=True)
class TrainConfig:
    """One training run; ``prune=None`` is the unpruned baseline.

    ``dims`` builds a fresh MLP (ignored when the trainer is given a model to continue);
    ``threads=None`` leaves torch's thread count to the caller (the app keeps a core for its UI).
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

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a setting out of range."""
        if len(self.dims) < 2 or any(d < 1 for d in self.dims):
            raise ConfigError(f"dims need at least two positive widths, got {list(self.dims)}")
        if self.dims[0] != 784 or self.dims[-1] != 10:
            raise ConfigError(f"MNIST needs dims from 784 to 10, got {list(self.dims)}")
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}")
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
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be at least 1, got {self.threads}")
        if self.prune is not None:
            self.prune.validate()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types (stored in run logs and checkpoint metadata)."""
        record = asdict(self)
        record["dims"] = list(self.dims)
        if self.prune is not None:
            record["prune"]["keep_noise"] = self.prune.keep_noise.describe()
        return record


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
