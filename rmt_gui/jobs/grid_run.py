"""Run a sweep's trials as Ray tasks, each training into its own run folder, resumably.

Trial ``ID`` trains into ``OUT/trials/ID``, the run folder ``rmt-gui train --out`` writes
(:mod:`rmt_gui.jobs.run_log`). A trial whose ``run.json`` records a finished end with the same
settings is skipped; an unfinished one (stopped, killed) goes on from its last checkpoint
(:func:`~rmt_gui.jobs.resume.find_resume_point`), or starts again when it saved none. Each trial
is one Ray task asking for ``cpus_per_trial`` CPUs and training with as many torch threads.

Without an address Ray starts on this machine with one CPU per core and stops at the end; with
one it joins that cluster (its nodes need rmt-gui installed, and the data and ``OUT`` on a
shared filesystem for resuming). Ctrl+C cancels the running trials, disconnects and re-raises.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from rmt_gui.errors import FileError, RmtGuiError, one_line
from rmt_gui.jobs.config import ConfigError, SnapshotPolicy, TrainConfig
from rmt_gui.jobs.grid_spec import GridSpec, Trial
from rmt_gui.jobs.grid_summary import TrialRecord, write_summary
from rmt_gui.jobs.resume import find_resume_point
from rmt_gui.jobs.run_log import read_summary

INSTALL_HINT = "sweeps run on Ray, which is not installed: pip install 'rmt-gui[cluster]'"
POLL_S = 0.25
TRIALS = "trials"


class SweepError(RmtGuiError):
    """A sweep cannot run, or some of its trials failed."""


def import_ray() -> ModuleType:
    """The ``ray`` module, or a :class:`SweepError` saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise SweepError(INSTALL_HINT) from exc
    return ray


def local_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def read_record(trial: Trial, run_dir: Path) -> TrialRecord:
    """The finished trial's end record (``run.json``) and epoch rows (``metrics.jsonl``)."""
    summary = read_summary(run_dir)
    try:
        lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        epochs = [json.loads(line) for line in lines]
    except (OSError, ValueError) as exc:
        raise FileError(run_dir / "metrics.jsonl", f"cannot be read ({one_line(exc)})") from exc
    return TrialRecord(trial, summary["ended"], epochs)


def finished_record(trial: Trial, run_dir: Path) -> TrialRecord | None:
    """The trial's record if ``run_dir`` holds it finished, ``None`` if it still has to run;
    a finished run with other settings is refused (the spec changed under the same folder)."""
    summary = read_summary(run_dir)
    ended = summary.get("ended")
    if not isinstance(ended, dict) or ended.get("status") != "finished":
        return None
    started = summary.get("started")
    try:
        saved = TrainConfig.from_json(started.get("config") if isinstance(started, dict) else None)
    except ConfigError:
        saved = None
    if saved is None or not saved.same_run(trial.config):
        raise FileError(
            run_dir, "holds a finished run with other settings (was the spec changed?); "
            "choose another --out",
        )  # fmt: skip
    return read_record(trial, run_dir)


def train_trial(trial: Trial, run_dir: str, started: Any) -> TrialRecord:
    """One trial, the body of its Ray task: say it started (``started.put``), train, and return
    its record read back from the run folder (so a resumed run's earlier epochs count)."""
    from rmt_gui.jobs.trainer import Trainer, load_data

    started.put((trial.id, socket.gethostname()))
    folder = Path(run_dir)
    point = None
    if read_summary(folder):
        with contextlib.suppress(FileError):
            point = find_resume_point(folder)
    trainer = Trainer(
        trial.config, run_dir=folder, overwrite=True, data=load_data(trial.config),
        snapshots=SnapshotPolicy(background=False), resume=point,
    )  # fmt: skip
    for _event in trainer.run():
        pass
    return read_record(trial, folder)


@dataclass
class SweepProgress:
    """Prints one line per trial start and end, with the running count of trials done."""

    total: int
    say: Callable[[str], None]
    done: int = 0
    running: int = 0
    failed: list[str] = field(default_factory=list)

    def _result(self, record: TrialRecord) -> str:
        accuracy = record.ended.get("test_accuracy")
        text = f"{100 * accuracy:.2f}%" if isinstance(accuracy, float) else "n/a"
        return f"test accuracy {text}, {record.ended.get('params', 0):,} parameters"

    def skipped(self, record: TrialRecord) -> None:
        """A trial found finished before this run."""
        self.done += 1
        self.say(f"[{self.done}/{self.total}] skipped {record.trial.id}: finished before, "
                 f"{self._result(record)}")  # fmt: skip

    def started(self, trial_id: str, host: str) -> None:
        """A trial's task began on ``host``."""
        self.running += 1
        self.say(f"[{self.done}/{self.total}] started {trial_id} on {host} "
                 f"({self.running} running)")  # fmt: skip

    def finished(self, record: TrialRecord) -> None:
        """A trial trained to its end."""
        self.done, self.running = self.done + 1, self.running - 1
        seconds = record.ended.get("elapsed", 0.0)
        self.say(f"[{self.done}/{self.total}] finished {record.trial.id}: "
                 f"{self._result(record)}, {seconds:.0f}s")  # fmt: skip

    def failure(self, trial: Trial, problem: str) -> None:
        """A trial's task raised (or its worker died)."""
        self.done, self.running = self.done + 1, max(self.running - 1, 0)
        self.failed.append(trial.id)
        self.say(f"[{self.done}/{self.total}] failed {trial.id}: {problem}")


def _problem(ray: ModuleType, exc: Exception) -> str:
    """One line for a task's failure: the trial's own error when Ray carried it."""
    cause = getattr(exc, "cause", None) if isinstance(exc, ray.exceptions.RayTaskError) else None
    return one_line(cause) if isinstance(cause, BaseException) else one_line(exc)


@contextlib.contextmanager
def ray_session(ray: ModuleType, address: str | None) -> Iterator[None]:
    """Ray connected for the block: this machine's cores without ``address``, else that cluster.

    Ray's notes about a cluster it starts itself are not shown (only its errors); a cluster
    joined shows its warnings. Ray's SIGTERM handler is put back to the caller's, so a stop
    signal still interrupts.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    if address is None:
        ray.init(num_cpus=local_cores(), include_dashboard=False, logging_level=logging.ERROR)
    else:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
    if main:
        signal.signal(signal.SIGTERM, previous)
    try:
        yield
    finally:
        ray.shutdown()


def _run_tasks(
    ray: ModuleType, todo: list[Trial], trials_dir: Path, cpus: int, progress: SweepProgress
) -> list[TrialRecord]:
    """Submit every trial, report starts and ends as they come (a trial's start before its
    end, the others' starts after the ends that freed their CPUs); Ctrl+C cancels the rest."""
    from ray.util.queue import Queue

    started = Queue()
    task = ray.remote(num_cpus=cpus, max_retries=0)(train_trial)
    pending = {task.remote(trial, str(trials_dir / trial.id), started): trial for trial in todo}
    records = []
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
            hosts = dict(started.get_nowait() for _ in range(started.qsize()))
            for ref in ready:
                trial = pending.pop(ref)
                if trial.id in hosts:
                    progress.started(trial.id, hosts.pop(trial.id))
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    progress.failure(trial, _problem(ray, exc))
                else:
                    records.append(record)
                    progress.finished(record)
            for trial_id, host in hosts.items():
                progress.started(trial_id, host)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        progress.say(f"cancelled {len(pending)} trial(s); run the sweep again to go on")
        raise
    return records


def run_sweep(
    spec: GridSpec,
    out: Path,
    *,
    address: str | None = None,
    cpus_per_trial: int = 1,
    say: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run the spec's unfinished trials on Ray, then write the summary into ``out``.

    Returns the per-cell summary rows; a :class:`SweepError` after the summary when a trial
    failed (its folder is kept, and the next run tries it again).
    """
    if cpus_per_trial < 1:
        raise SweepError(f"--cpus-per-trial must be at least 1, got {cpus_per_trial}")
    if address is None and cpus_per_trial > local_cores():
        raise SweepError(f"--cpus-per-trial {cpus_per_trial} is more than the "
                         f"{local_cores()} cores here")  # fmt: skip
    trials_dir = out / TRIALS
    try:
        trials_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileError(out, f"cannot create the sweep folder ({exc.strerror})") from exc
    progress = SweepProgress(len(spec.trials), say)
    records: dict[str, TrialRecord] = {}
    for trial in spec.trials:
        record = finished_record(trial, trials_dir / trial.id)
        if record is not None:
            records[trial.id] = record
            progress.skipped(record)
    todo = [trial for trial in spec.trials if trial.id not in records]
    if todo:
        ray = import_ray()
        with ray_session(ray, address):
            for record in _run_tasks(ray, todo, trials_dir, cpus_per_trial, progress):
                records[record.trial.id] = record
    ordered = [records[trial.id] for trial in spec.trials if trial.id in records]
    summary = write_summary(ordered, out) if ordered else []
    if progress.failed:
        raise SweepError(
            f"{len(progress.failed)} of {len(spec.trials)} trials failed (first: "
            f"{progress.failed[0]}); run the sweep again to retry them"
        )
    return summary
