"""How much memory this process may still allocate, so that readers refuse what cannot fit.

A file can declare far more data than it holds (a zip bomb inflates a few megabytes into
gigabytes); readers compare the declared size with :func:`available_memory` before reading.
"""

from __future__ import annotations

import os
from pathlib import Path

from rmt_gui.errors import FileError

MEMINFO = Path("/proc/meminfo")
PROCESS_STATUS = Path("/proc/self/status")
CGROUP_V2 = Path("/sys/fs/cgroup")
CGROUP_V1 = Path("/sys/fs/cgroup/memory")
UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")


def _read_int(path: Path) -> int | None:
    """The integer a one-value kernel file holds, else ``None`` (absent, ``max`` or garbage)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _field_kib(path: Path, field: str) -> int | None:
    """``field: N kB`` of a ``/proc`` status file, in bytes, else ``None``."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def resident_memory(pid: int | None) -> int | None:
    """Resident memory of process ``pid`` in bytes (Linux ``/proc``); ``None`` where unknown."""
    return None if pid is None else _field_kib(Path(f"/proc/{pid}/status"), "VmRSS")


def _stat_field(path: Path, field: str) -> int:
    """``field N`` of a cgroup ``memory.stat`` file, else 0."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == field:
                return int(value)
    except (OSError, ValueError):
        return 0
    return 0


def _free_ram() -> int | None:
    """RAM the kernel can hand out now (``MemAvailable``; psutil, then total RAM, elsewhere)."""
    available = _field_kib(MEMINFO, "MemAvailable")
    if available is not None:
        return available
    try:
        import psutil
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().available)
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_headroom() -> int | None:
    """What the container's memory limit still allows (v2, else v1), reclaimable cache excluded."""
    for folder, limit, usage, cache in (
        (CGROUP_V2, "memory.max", "memory.current", "inactive_file"),
        (CGROUP_V1, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
    ):
        cap, used = _read_int(folder / limit), _read_int(folder / usage)
        if cap is not None and used is not None and cap < 2**60:
            return max(0, cap - used + _stat_field(folder / "memory.stat", cache))
    return None


def _rlimit_headroom() -> int | None:
    """What ``RLIMIT_AS`` and ``RLIMIT_DATA`` still allow this process, if either is set."""
    try:
        import resource
    except ImportError:
        return None
    room = []
    for limit, field in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
        soft, _ = resource.getrlimit(limit)
        if soft != resource.RLIM_INFINITY:
            room.append(max(0, soft - (_field_kib(PROCESS_STATUS, field) or 0)))
    return min(room) if room else None


def available_memory() -> int | None:
    """Bytes this process can still allocate (the tightest of RAM, cgroup and rlimits), or None."""
    known = [
        room for room in (_free_ram(), _cgroup_headroom(), _rlimit_headroom()) if room is not None
    ]
    return min(known) if known else None


def human_bytes(count: int) -> str:
    """``count`` bytes in decimal units, e.g. ``"4.0 GB"``."""
    value = float(count)
    for unit in UNITS[:-1]:
        if round(value, 1) < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} {UNITS[-1]}" if value < 1000 else f"{value:.3g} {UNITS[-1]}"


def require_memory(path: Path, what: str, needed: int) -> None:
    """Refuse, before reading, data of ``needed`` bytes that this process could not hold."""
    available = available_memory()
    if available is not None and needed > available:
        raise FileError(
            path,
            f"{what} needs {human_bytes(needed)}, "
            f"only {human_bytes(available)} of memory is available",
        )
