"""Shared timing helper for the benchmark scripts: best-of-N wall time."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(func: Callable[[], object], repeat: int = 5, budget_s: float = 30.0) -> float:
    """Best wall time of ``func`` over ``repeat`` runs; stops early once ``budget_s`` is spent."""
    best = float("inf")
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return best


def best_times_alternating(
    first: Callable[[], object], second: Callable[[], object], repeat: int = 5
) -> tuple[float, float]:
    """Best wall times of ``first`` and ``second`` run in turns, so that a machine's drift
    (another process starting, the CPU clock changing) reaches both alike."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for index, func in enumerate((first, second)):
            t0 = time.perf_counter()
            func()
            best[index] = min(best[index], time.perf_counter() - t0)
    return best[0], best[1]


def report(label: str, ours: float, baseline: float, baseline_name: str) -> None:
    """Print one benchmark line: both times and the speed ratio."""
    print(
        f"{label:<44} ours {ours * 1e3:10.3f} ms   {baseline_name} {baseline * 1e3:10.3f} ms"
        f"   speedup {baseline / ours:8.1f}x"
    )


def report_ratio(
    label: str, ours: float, baseline: float, baseline_name: str, target: float
) -> None:
    """Print one benchmark line as the time ratio ours / baseline against a target ratio."""
    ratio = ours / baseline
    verdict = "met" if ratio <= target else "MISSED"
    print(
        f"{label:<44} ours {ours * 1e3:10.3f} ms   {baseline_name} {baseline * 1e3:10.3f} ms"
        f"   ratio {ratio:6.2f}x (target <= {target:g}x: {verdict})"
    )
