"""The snapshot helper thread yields the CPU: the training thread (and the app's UI) come first."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from rmt_gui.jobs import snapshots
from rmt_gui.jobs.config import PruneConfig, SnapshotPolicy
from rmt_gui.jobs.process_worker import WORKER_NICENESS
from rmt_gui.model.tree import build_mlp


def thread_niceness() -> int:
    """The calling thread's nice value (Linux schedules threads one by one)."""
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")
def test_background_spectra_run_niced(monkeypatch) -> None:
    seen: list[int] = []
    compute = snapshots.compute_snapshot

    def recording(*args, **kwargs):
        seen.append(thread_niceness())
        return compute(*args, **kwargs)

    monkeypatch.setattr(snapshots, "compute_snapshot", recording)
    policy = SnapshotPolicy(every_steps=1, background=True)
    sampler = snapshots.SpectrumSampler(policy, PruneConfig())
    sampler.request(1, 0.1, build_mlp([784, 20, 10], seed=0))
    (snapshot,) = sampler.drain()
    sampler.close()
    assert snapshot.step == 1
    assert len(seen) == 1 and seen[0] >= WORKER_NICENESS > thread_niceness()
