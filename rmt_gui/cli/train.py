"""``rmt-gui train``: train an MNIST MLP with periodic RMT pruning, logging into a run folder.

Progress is a one-line bar on a terminal and plain lines otherwise; Ctrl+C stops at the next
step boundary and saves ``cancelled.pt`` (a second Ctrl+C aborts at once). ``--resume RUN_DIR``
goes on with a stopped or killed run from its last checkpoint, with the run's own settings: an
option given with it must agree with them (only ``--data``, ``--threads``, ``--device``,
``--snapshot-every`` and ``--json`` are free), so every option defaults to ``None`` and the real
defaults are kept aside to tell the options given from the rest.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rmt_gui.cli.common import add_data_option, add_device_option, print_json
from rmt_gui.errors import FileError, RmtGuiError
from rmt_gui.jobs.config import (
    PAPER_KEEP_NOISE,
    VARIANT_HELP,
    VARIANTS,
    NoiseSchedule,
    PruneConfig,
    SnapshotPolicy,
    TrainConfig,
    parse_dims,
)

if TYPE_CHECKING:
    from rmt_gui.jobs.resume import ResumePoint
    from rmt_gui.jobs.trainer import Trainer

DEFAULTS = TrainConfig()
FREE_WITH_RESUME = frozenset(
    {"resume", "data", "download", "threads", "device", "snapshot_every", "json"}
)
NOT_WITH_RESUME = ("out", "force", "init")
BAR_WIDTH = 24
REDRAW_S = 0.1


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    parser = sub.add_parser(
        "train",
        help="train an MNIST MLP with periodic RMT (BEMA) pruning",
        description="Train an MLP on MNIST, pruning noise singular values every k epochs "
        "(the paper's experiment with its defaults).",
    )
    net = parser.add_argument_group("network and optimiser")
    net.add_argument("--dims", default="784,1000,10", metavar="D,..", help="widths (784,1000,10)")
    net.add_argument("--epochs", type=int, default=DEFAULTS.epochs, metavar="N", help="10")
    net.add_argument("--lr", type=float, default=DEFAULTS.lr, metavar="X", help="SGD (0.08)")
    net.add_argument("--momentum", type=float, default=DEFAULTS.momentum, metavar="X", help="0.9")
    net.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, metavar="N", help="128")
    net.add_argument("--seed", type=int, default=DEFAULTS.seed, metavar="S", help="init, order (0)")
    net.add_argument("--init", metavar="FILE", help="start from this model instead of --dims")
    cut = parser.add_argument_group("pruning")
    cut.add_argument("--no-prune", action="store_true", help="train the unpruned baseline")
    cut.add_argument("--prune-every", type=int, default=1, metavar="K", help="every K epochs (1)")
    cut.add_argument("--prune-every-steps", type=int, metavar="N", help="every N steps instead")
    cut.add_argument(
        "--first-cut", choices=("start", "end"), default="start",
        help="start: cut the random init first, as the notebook does; end: after K epochs",
    )  # fmt: skip
    cut.add_argument(
        "--keep-noise", type=float, default=PAPER_KEEP_NOISE, metavar="F",
        help=f"fraction of noise singular values kept (default {PAPER_KEEP_NOISE})",
    )  # fmt: skip
    cut.add_argument(
        "--keep-noise-schedule", metavar="SPEC",
        help="per-epoch fraction: linear:0.2:0.6 or a list 0.2,0.3,0.45 (overrides --keep-noise)",
    )  # fmt: skip
    cut.add_argument(
        "--variant", choices=VARIANTS, default="keep",
        help="; ".join(f"{name}: {text}" for name, text in VARIANT_HELP.items()),
    )  # fmt: skip
    cut.add_argument(
        "--shrink-factor", type=float, default=0.5, metavar="X", help="for shrink (0.5)"
    )
    cut.add_argument("--fit-threshold", type=float, default=0.1, metavar="E", help="good fit below")
    cut.add_argument(
        "--prune-poor-fits", action="store_true",
        help="also cut layers the MP law fits poorly (skipped by default here; prune never skips)",
    )  # fmt: skip
    cut.add_argument("--no-factorize", action="store_true", help="never split a layer in two")
    cut.add_argument("--min-rank", type=int, metavar="K", help="default: the output width")
    cut.add_argument("--alpha", type=float, default=0.2, metavar="A", help="BEMA trim (0.2)")
    cut.add_argument("--beta", type=float, default=0.1, metavar="B", help="TW level (0.1)")
    cut.add_argument(
        "--notebook-formula", action="store_true",
        help="the notebook's (1+sqrt g)**4/3 Tracy-Widom factor",
    )  # fmt: skip
    run = parser.add_argument_group("data, output and progress")
    add_data_option(run)
    run.add_argument("--limit-train", type=int, metavar="N", help="first N training images")
    run.add_argument("--limit-test", type=int, metavar="N", help="first N test images")
    run.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/train-TIME)")
    run.add_argument("--force", action="store_true", help="reuse a non-empty run folder")
    run.add_argument("--snapshot-every", type=int, metavar="N", help="log spectra every N steps")
    run.add_argument("--threads", type=int, metavar="N", help="threads for torch and numpy's BLAS")
    add_device_option(run)
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")
    run.add_argument(
        "--resume", metavar="RUN_DIR",
        help="go on with a stopped or killed run from its last checkpoint (its own settings)",
    )  # fmt: skip
    defaults = vars(parser.parse_args([]))
    parser.set_defaults(**dict.fromkeys(defaults, None), option_defaults=defaults)
    parser.set_defaults(run=run_command)


def given_options(args: argparse.Namespace) -> tuple[argparse.Namespace, set[str]]:
    """The options with the defaults filled in, and the names of those given."""
    defaults = args.option_defaults
    given = {name for name in defaults if getattr(args, name) is not None}
    values = {**defaults, **{name: getattr(args, name) for name in given}}
    return argparse.Namespace(**values), given


def options_of(config: TrainConfig) -> argparse.Namespace:
    """Options that :func:`config_from_args` turns into ``config`` (a baseline gets the
    default pruning options besides ``--no-prune``)."""
    prune = config.prune or PruneConfig()
    cut, schedule = prune.to_json(), prune.keep_noise
    return argparse.Namespace(
        dims=",".join(map(str, config.dims)), epochs=config.epochs, lr=config.lr,
        momentum=config.momentum, batch_size=config.batch_size, seed=config.seed,
        limit_train=config.limit_train, limit_test=config.limit_test, data=config.data_root,
        threads=config.threads, device=config.device, no_prune=config.prune is None,
        prune_every=cut["every_epochs"],
        prune_every_steps=cut["every_steps"], first_cut=cut["first_cut"], variant=cut["variant"],
        keep_noise=schedule.values[0],
        keep_noise_schedule=None if schedule.kind == "constant" else schedule.describe(),
        shrink_factor=cut["shrink_factor"], min_rank=cut["min_rank"],
        no_factorize=not cut["factorize"], fit_threshold=cut["fit_threshold"],
        prune_poor_fits=not cut["skip_poor_fit"], alpha=cut["alpha"], beta=cut["beta"],
        notebook_formula=cut["formula"] == "notebook",
    )  # fmt: skip


def _option_text(name: str, value: Any) -> str:
    """``--epochs 3``, ``--no-prune``, or ``without --min-rank`` for an option left unset."""
    flag = "--" + name.replace("_", "-")
    if value is None or value is False:
        return f"without {flag}"
    return flag if value is True else f"{flag} {value}"


def resumed_config(
    saved: TrainConfig, args: argparse.Namespace, given: set[str], run_dir: str
) -> TrainConfig:
    """The run's own config with ``--data``/``--threads``/``--device`` if given; an option that
    would change how it trains is refused, naming the run's own value."""
    base = options_of(saved)
    before = config_from_args(base)
    for name in sorted(given - FREE_WITH_RESUME):
        trial = argparse.Namespace(**{**vars(base), name: getattr(args, name)})
        if not config_from_args(trial).same_run(before):
            raise FileError(
                run_dir,
                f"{_option_text(name, getattr(args, name))} conflicts with the run's own setting "
                f"({_option_text(name, getattr(base, name))}); a resumed run keeps its settings",
            )
    threads = args.threads if "threads" in given else saved.threads
    data = args.data if "data" in given else saved.data_root
    device = args.device if "device" in given else saved.device
    config = replace(saved, threads=threads, data_root=data, device=device)
    config.validate()
    return config


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` the options describe (validated)."""
    schedule = NoiseSchedule.from_options(args.keep_noise_schedule, args.keep_noise)
    prune = PruneConfig.from_options(
        every_epochs=args.prune_every,
        every_steps=args.prune_every_steps,
        first_cut=args.first_cut,
        variant=args.variant,
        keep_noise=schedule,
        shrink_factor=args.shrink_factor,
        min_rank=args.min_rank,
        factorize=not args.no_factorize,
        fit_threshold=args.fit_threshold,
        skip_poor_fit=not args.prune_poor_fits,
        alpha=args.alpha,
        beta=args.beta,
        formula="notebook" if args.notebook_formula else "paper",
    )
    config = TrainConfig(
        dims=parse_dims(args.dims, "--dims"),
        epochs=args.epochs,
        lr=args.lr,
        momentum=args.momentum,
        batch_size=args.batch_size,
        seed=args.seed,
        limit_train=args.limit_train,
        limit_test=args.limit_test,
        data_root=args.data,
        prune=None if args.no_prune else prune,
        threads=args.threads,
        device=args.device,
    )
    config.validate()
    return config


@contextmanager
def ctrl_c_cancels(trainer: Trainer) -> Iterator[None]:
    """The first Ctrl+C asks the trainer to stop cleanly; the second one aborts."""

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, previous)
        print("\nstopping after this step (Ctrl+C again to abort)", file=sys.stderr)
        trainer.cancel.cancel()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """Prints a run's events: a redrawn bar on a terminal, permanent lines for what matters."""

    def __init__(self, stream: Any, epochs: int) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.epochs = epochs
        self.total = 1
        self._last_draw = 0.0
        self._bar_shown = False

    def line(self, text: str) -> None:
        """A permanent line (clears the bar first)."""
        if self._bar_shown:
            self.stream.write("\r\033[K")
            self._bar_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def bar(self, step: int, epoch: int, loss: float, elapsed: float) -> None:
        """Redraw the bar (at most ten times a second)."""
        now = time.monotonic()
        if not self.tty or (now - self._last_draw < REDRAW_S and step < self.total):
            return
        self._last_draw = now
        done = step / self.total
        filled = int(BAR_WIDTH * done)
        eta = elapsed / step * (self.total - step) if step else 0.0
        self.stream.write(
            f"\r\033[Kepoch {epoch}/{self.epochs} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}]"
            f" {100 * done:3.0f}%  step {step}/{self.total}  loss {loss:.4f}  ETA {_duration(eta)}"
        )
        self.stream.flush()
        self._bar_shown = True


def _describe_cut(event: Any) -> list[str]:
    """One line per layer of a cut."""
    lines = [f"cut at step {event.step} (f={event.keep_noise:g}): "
             f"parameters {event.params_before:,} -> {event.params_after:,}"]  # fmt: skip
    for layer in event.layers:
        shape = "x".join(map(str, layer.shape))
        head = (
            f"  {layer.layer:<16} {shape:>9}  signal {layer.n_signal:>4}  fit {layer.fit_error:.3f}"
        )
        if layer.skipped:
            lines.append(f"{head}  skipped: {layer.skipped}")
        else:
            after = " + ".join("x".join(map(str, s)) for s in layer.shapes_after)
            lines.append(f"{head}  rank {layer.rank_before} -> {layer.rank_after}  ({after})")
    return lines


def report(trainer: Trainer, progress: Progress) -> Any:
    """Consume the run's events, printing progress; returns the final ``RunEnded``."""
    from rmt_gui.jobs.events import EpochEnd, PruneEvent, RunEnded, RunStarted, StepLoss

    ended = None
    for event in trainer.run():
        if isinstance(event, StepLoss):
            progress.bar(event.step, event.epoch, event.loss, event.elapsed)
        elif isinstance(event, RunStarted):
            progress.total = event.total_steps
            where = event.run_dir or "(no folder)"
            prune = event.config.prune
            progress.line(f"training {event.params:,} parameters on {event.train_size} images "
                          f"for {event.config.epochs} epochs -> {where}")  # fmt: skip
            progress.line(f"pruning: {prune.describe() if prune else 'none (baseline)'}")
        elif isinstance(event, PruneEvent):
            for text in _describe_cut(event):
                progress.line(text)
        elif isinstance(event, EpochEnd):
            progress.line(
                f"epoch {event.epoch}/{progress.epochs}  train loss {event.train_loss:.4f} "
                f"acc {100 * event.train_accuracy:.2f}%  test loss {event.test_loss:.4f} "
                f"acc {100 * event.test_accuracy:.2f}%  params {event.params:,}  "
                f"{event.seconds:.1f}s"
            )
        elif isinstance(event, RunEnded):
            ended = event
    return ended


def _load_data(config: TrainConfig, download: bool) -> Any:
    """The config's MNIST splits, cut to its limits; its device is checked first, so that an
    absent GPU is refused before the data loads."""
    from rmt_gui.jobs.trainer import TrainData
    from rmt_gui.model.data import load_mnist
    from rmt_gui.model.device import resolve_device

    resolve_device(config.device)
    root = config.data_root
    return TrainData(
        load_mnist(root, train=True, download=download).head(config.limit_train),
        load_mnist(root, train=False, download=download).head(config.limit_test),
    )


def _snapshots(args: argparse.Namespace) -> SnapshotPolicy:
    return SnapshotPolicy(every_steps=args.snapshot_every, background=False)


def new_trainer(args: argparse.Namespace) -> Trainer:
    """A trainer for the run the options describe, in ``--out`` (or a new dated folder)."""
    config = config_from_args(args)
    from rmt_gui.jobs.trainer import Trainer

    model = None
    if args.init:
        from rmt_gui.model.opener import open_checkpoint

        model = open_checkpoint(args.init).build_model()
    data = _load_data(config, args.download)
    out = Path(args.out or f"runs/train-{time.strftime('%Y%m%d-%H%M%S')}")
    return Trainer(
        config, run_dir=out, overwrite=args.force, data=data, model=model,
        snapshots=_snapshots(args),
    )  # fmt: skip


def resume_trainer(args: argparse.Namespace, given: set[str]) -> tuple[Trainer, ResumePoint]:
    """A trainer going on with the run in ``--resume`` from its newest readable checkpoint
    (a skipped corrupt one is reported on stderr)."""
    from rmt_gui.jobs.resume import find_resume_point
    from rmt_gui.jobs.trainer import Trainer

    misplaced = [name for name in NOT_WITH_RESUME if name in given]
    if misplaced:
        flag = _option_text(misplaced[0], True)
        raise RmtGuiError(f"{flag} cannot be used with --resume (the run goes on in its folder)")
    point = find_resume_point(args.resume)
    for note in point.notes:
        print(f"rmt-gui: warning: {note}", file=sys.stderr)
    config = resumed_config(point.state.config, args, given, args.resume)
    data = _load_data(config, args.download)
    trainer = Trainer(
        config, run_dir=args.resume, data=data, snapshots=_snapshots(args), resume=point
    )
    return trainer, point


def run_command(args: argparse.Namespace) -> int:
    """Validate options, load data, train (or resume), print a summary; 130 when stopped by
    Ctrl+C."""
    args, given = given_options(args)
    trainer, point = resume_trainer(args, given) if args.resume else (new_trainer(args), None)
    progress = Progress(sys.stderr if args.json else sys.stdout, trainer.config.epochs)
    if point is not None:
        progress.line(f"resuming {args.resume} from {point.path} (step {point.state.step})")
    with ctrl_c_cancels(trainer):
        ended = report(trainer, progress)
    if args.json:
        print_json(ended.to_json())
    else:
        acc = f"{100 * ended.test_accuracy:.2f}%" if ended.test_accuracy is not None else "n/a"
        progress.line(
            f"{ended.status}: test accuracy {acc}, {ended.params:,} parameters, "
            f"{_duration(ended.elapsed)}; model saved to {ended.model_path}"
        )
    return 0 if ended.status == "finished" else 130
