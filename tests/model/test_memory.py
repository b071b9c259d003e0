"""Available-memory checks: RAM, cgroup limits and rlimits, and the one-line refusal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rmt_gui.errors import FileError
from rmt_gui.model import memory


def write_files(folder: Path, files: dict[str, str]) -> Path:
    """``folder`` holding ``files`` (name -> text), like a kernel pseudo-file folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (999_960, "1.0 MB"),
        (2_100_000_000, "2.1 GB"), (4 * 10**9, "4.0 GB"), (8_796_093_022_208, "8.8 TB"),
        (10**30, "1e+12 EB"),
    ],
)  # fmt: skip
def test_human_bytes(count: int, text: str) -> None:
    assert memory.human_bytes(count) == text


def test_free_ram_is_memavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  8000000 kB\nMemFree:  100 kB\nMemAvailable:  2048 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    assert memory._free_ram() == 2048 * 1024


def test_free_ram_falls_back_without_meminfo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "absent")
    room = memory._free_ram()
    assert room is None or room > 0


def test_cgroup_v2_headroom_counts_reclaimable_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v2 = write_files(
        tmp_path / "v2",
        {"memory.max": "1000000\n", "memory.current": "400000\n",
         "memory.stat": "anon 300000\ninactive_file 50000\n"},
    )  # fmt: skip
    monkeypatch.setattr(memory, "CGROUP_V2", v2)
    monkeypatch.setattr(memory, "CGROUP_V1", tmp_path / "absent")
    assert memory._cgroup_headroom() == 1000000 - 400000 + 50000


def test_cgroup_without_a_limit_falls_back_to_v1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v2 = write_files(tmp_path / "v2", {"memory.max": "max\n", "memory.current": "5\n"})
    v1 = write_files(
        tmp_path / "v1",
        {"memory.limit_in_bytes": "900\n", "memory.usage_in_bytes": "1000\n"},
    )
    monkeypatch.setattr(memory, "CGROUP_V2", v2)
    monkeypatch.setattr(memory, "CGROUP_V1", v1)
    assert memory._cgroup_headroom() == 0
    (v1 / "memory.limit_in_bytes").write_text(f"{2**63 - 4096}\n")  # v1's "no limit"
    assert memory._cgroup_headroom() is None


def test_available_memory_is_the_tightest_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_free_ram", lambda: 8000)
    monkeypatch.setattr(memory, "_cgroup_headroom", lambda: None)
    monkeypatch.setattr(memory, "_rlimit_headroom", lambda: 3000)
    assert memory.available_memory() == 3000
    monkeypatch.setattr(memory, "_cgroup_headroom", lambda: 0)
    assert memory.available_memory() == 0
    for source in ("_free_ram", "_cgroup_headroom", "_rlimit_headroom"):
        monkeypatch.setattr(memory, source, lambda: None)
    assert memory.available_memory() is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is Linux's")
def test_an_address_space_limit_caps_available_memory() -> None:
    script = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, -1)); "
        "from rmt_gui.model.memory import available_memory; print(available_memory())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert 0 < int(result.stdout) < 1 << 30


def test_require_memory_refuses_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: 2_100_000_000)
    memory.require_memory(Path("m.npz"), "layer 'w'", 2_100_000_000)
    with pytest.raises(FileError) as error:
        memory.require_memory(Path("m.npz"), "layer 'w'", 4 * 10**9)
    assert str(error.value) == "m.npz: layer 'w' needs 4.0 GB, only 2.1 GB of memory is available"


def test_unknown_memory_refuses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    memory.require_memory(Path("m.npz"), "layer 'w'", 10**30)
