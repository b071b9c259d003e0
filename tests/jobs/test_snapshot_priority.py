"""The snapshot helper thread yields the CPU: the training thread (and the app's UI) come first,
and its libraries run in that one thread (no OpenMP team member or BLAS thread on other cores)."""

from __future__ import annotations

import os
import sys
import threading

import pytest
from threadpoolctl import threadpool_info

from rmt_gui.jobs import snapshots
from rmt_gui.jobs.config import PruneConfig, SnapshotPolicy
from rmt_gui.model.tree import build_mlp


def thread_policy() -> int:
    """The calling thread's scheduling policy (Linux schedules threads one by one)."""
    return os.sched_getscheduler(threading.get_native_id())


def run_recorded(monkeypatch, background: bool) -> tuple[int, list[int]]:
    """One snapshot; the policy and the thread-pool sizes its computation ran with."""
    seen: list[tuple[int, list[int]]] = []
    compute = snapshots.compute_snapshot

    def recording(*args, **kwargs):
        seen.append((thread_policy(), [pool["num_threads"] for pool in threadpool_info()]))
        return compute(*args, **kwargs)

    monkeypatch.setattr(snapshots, "compute_snapshot", recording)
    policy = SnapshotPolicy(every_steps=1, background=background)
    sampler = snapshots.SpectrumSampler(policy, PruneConfig())
    sampler.request(1, 0.1, build_mlp([784, 20, 10], seed=0))
    (snapshot,) = sampler.drain()
    sampler.close()
    assert snapshot.step == 1 and len(seen) == 1
    return seen[0]


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread scheduling is Linux's")
def test_background_spectra_run_at_idle_priority_in_one_thread(monkeypatch) -> None:
    policy, pools = run_recorded(monkeypatch, background=True)
    assert policy == os.SCHED_IDLE != thread_policy()
    assert pools and set(pools) == {1}


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread scheduling is Linux's")
def test_spectra_in_line_keep_the_training_threads_priority(monkeypatch) -> None:
    policy, _pools = run_recorded(monkeypatch, background=False)
    assert policy == thread_policy() == os.SCHED_OTHER
