"""The pruning rule shared by ``rmt-gui prune``, the app's Prune panel and the trainer's cuts.

A :class:`PruneRule` is frozen and checked when it is built, so every caller refuses the same
bad settings with the same one-line message, naming the option as the command line spells it
(``--alpha must be in [0, 0.5), got 0.7``). It needs no torch: the trainer's settings embed it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rmt_gui.errors import RmtGuiError
from rmt_gui.spectral.bema import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    GOOD_FIT_THRESHOLD,
    BemaResult,
    Variant,
    bema_fit,
    check_alpha,
    check_beta,
)
from rmt_gui.spectral.spectrum import Spectrum

Method = Literal["bema", "rank", "gavish-donoho", "mp-edge", "energy", "shrink"]
METHODS: tuple[Method, ...] = ("bema", "rank", "gavish-donoho", "mp-edge", "energy", "shrink")
Factorize = Literal["never", "if_smaller", "always"]
FACTORIZE: tuple[Factorize, ...] = ("never", "if_smaller", "always")
FORMULAS: tuple[Variant, ...] = ("paper", "notebook")
PAPER_KEEP_NOISE = 0.45
"""The paper's fraction ``f`` of the noise singular values kept besides every BEMA spike."""

CHOICES: dict[str, tuple[str, ...]] = {
    "method": METHODS,
    "factorize": FACTORIZE,
    "formula": FORMULAS,
}
RANGES: dict[str, tuple[str, Callable[[float], bool]]] = {
    "keep_noise": ("in [0, 1]", lambda x: 0 <= x <= 1),
    "shrink_factor": ("in [0, 1]", lambda x: 0 <= x <= 1),
    "energy": ("in (0, 1]", lambda x: 0 < x <= 1),
    "fit_threshold": ("a positive number", lambda x: x > 0),
}
"""Each real field's allowed values, in words (for the message) and as a test."""
BEMA_CHECKS: dict[str, Callable[[Any], float]] = {"alpha": check_alpha, "beta": check_beta}
"""The BEMA options, checked by the spectral code's own validators (as ``analyze`` does)."""
COUNTS = ("rank", "min_rank")
LABELS = {
    "method": "the pruning method",
    "factorize": "factorize",
    "formula": "the BEMA formula",
    "skip_poor_fit": "skip_poor_fit",
}


def option_name(field: str) -> str:
    """How the command line spells a rule field: ``keep_noise`` -> ``--keep-noise``."""
    return LABELS.get(field, "--" + field.replace("_", "-"))


class RuleError(RmtGuiError):
    """A pruning setting of the wrong type or out of range; the message names the option."""

    def __init__(self, field: str, problem: str, name: str | None = None) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{name or option_name(field)} {problem}")

    def spelled(self, names: Mapping[str, str]) -> RuleError:
        """The same error naming the option as a command spells it (``prune`` says ``--shrink``)."""
        return RuleError(self.field, self.problem, names.get(self.field))


def _shown(value: object) -> str:
    """A bad value as the message shows it: numbers as typed, other things quoted and short."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{float(value):g}"
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _real(field: str, value: object, interval: str, inside: Callable[[float], bool]) -> float:
    """``value`` as a finite float inside ``interval``, else :class:`RuleError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RuleError(field, f"must be a number, got {_shown(value)}")
    number = float(value)
    if not (math.isfinite(number) and inside(number)):
        raise RuleError(field, f"must be {interval}, got {_shown(value)}")
    return number


def _bema(field: str, value: object, check: Callable[[Any], float]) -> float:
    """``value`` as the BEMA validator ``check`` accepts it, else :class:`RuleError`."""
    try:
        return check(value)
    except ValueError as exc:
        raise RuleError(field, str(exc).removeprefix(f"{field} ")) from None


def _count(field: str, value: object) -> int | None:
    """``value`` as a whole number of at least 1 (or ``None``: unset), else :class:`RuleError`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise RuleError(field, f"must be a whole number, got {_shown(value)}")
    if value < 1:
        raise RuleError(field, f"must be at least 1, got {value}")
    return int(value)


def _choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else :class:`RuleError` listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise RuleError(field, f"must be one of {', '.join(allowed)}, got {_shown(value)}")
    return value


@dataclass(frozen=True)
class PruneRule:
    """How to choose each layer's rank: a method and its parameters (docs/method.md §4).

    ``min_rank=None`` means the network's output width (resolved by the planner). The BEMA fit
    settings (``alpha``, ``beta``, ``formula``, ``fit_threshold``) also decide which layers are
    poorly fitted; ``skip_poor_fit`` leaves those alone.
    """

    method: Method = "bema"
    keep_noise: float = PAPER_KEEP_NOISE
    rank: int | None = None
    shrink_factor: float = 0.5
    energy: float = 0.9
    min_rank: int | None = None
    factorize: Factorize = "never"
    alpha: float = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    formula: Variant = "paper"
    fit_threshold: float = GOOD_FIT_THRESHOLD
    skip_poor_fit: bool = False

    def __post_init__(self) -> None:
        """Check every field once, here, and store numbers as plain ``float`` and ``int``."""
        checked: dict[str, object] = {
            name: _choice(name, getattr(self, name), allowed) for name, allowed in CHOICES.items()
        }
        checked |= {
            name: _real(name, getattr(self, name), *limits) for name, limits in RANGES.items()
        }
        checked |= {name: _bema(name, getattr(self, name), c) for name, c in BEMA_CHECKS.items()}
        checked |= {name: _count(name, getattr(self, name)) for name in COUNTS}
        if checked["method"] == "rank" and checked["rank"] is None:
            raise RuleError("rank", "K is needed: the rank method keeps the top K values")
        if not isinstance(self.skip_poor_fit, bool):
            raise RuleError("skip_poor_fit", f"must be true or false, got {self.skip_poor_fit!r}")
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def fit(self, spectrum: Spectrum) -> BemaResult:
        """The BEMA fit of one layer's spectrum with this rule's settings."""
        return bema_fit(
            spectrum, self.alpha, self.beta, self.formula, good_fit_threshold=self.fit_threshold
        )

    def floor(self, output_width: int, p: int) -> int:
        """The fewest values a layer with ``p`` of them keeps: ``min_rank`` or the output width."""
        return min(self.min_rank or output_width, p)

    def skip_reason(self, fit: BemaResult) -> str:
        """Why a layer is left alone because its MP fit is poor, or ``""``."""
        if not self.skip_poor_fit or fit.good_fit:
            return ""
        return fit.note or (
            f"poor MP fit (error {fit.fit_error:.3f} >= threshold {self.fit_threshold:g})"
        )

    def describe(self) -> str:
        """A short human-readable summary for history entries and logs."""
        text = {
            "bema": f"BEMA, keep {self.keep_noise:g} of noise",
            "rank": f"rank {self.rank}",
            "gavish-donoho": "Gavish–Donoho",
            "mp-edge": "MP edge",
            "energy": f"energy {self.energy:g}",
            "shrink": f"shrink noise ×{self.shrink_factor:g}",
        }[self.method]
        return text + (", factorised" if self.factorize != "never" else "")
