"""How much smaller and faster an export is: file size on disk and CPU latency, before and after.

"Before" is the original model and its source file, run with torch; "after" is the exported
file, run with onnxruntime for ONNX and with torch (the exported model, as written) otherwise.
Latency is the median wall time of :data:`REPEATS` forward passes (after one warm-up) of a
batch of 1 and of :data:`LARGE_BATCH` images, in this process, on the CPU, with torch's thread
count for both runtimes. A model that does not run on MNIST images gets no latency.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rmt_gui.model.onnx_export import (
    reference_outputs,
    run_session,
    sample_images,
    session,
    session_inputs,
)

REPEATS = 9
LARGE_BATCH = 256


@dataclass(frozen=True)
class Latency:
    """Median CPU milliseconds of one forward pass of a batch of 1 and of 256 images."""

    batch_1_ms: float
    batch_256_ms: float


@dataclass(frozen=True)
class ExportReport:
    """Sizes on disk (bytes), latencies before/after, and the ONNX check's max |difference|."""

    fmt: str
    runtime: str
    bytes_before: int
    bytes_after: int
    latency_before: Latency | None
    latency_after: Latency | None
    max_abs_diff: float | None = None

    def summary(self) -> str:
        """One line: size, latency at both batch sizes, and the ONNX difference if any."""
        ratio = self.bytes_before / max(self.bytes_after, 1)
        parts = [f"size {_size(self.bytes_before)} -> {_size(self.bytes_after)} ({ratio:.1f}x)"]
        before, after = self.latency_before, self.latency_after
        if before is not None and after is not None:
            parts.append(
                f"CPU latency batch 1 {before.batch_1_ms:.3g} -> {after.batch_1_ms:.3g} ms, "
                f"batch {LARGE_BATCH} {before.batch_256_ms:.3g} -> {after.batch_256_ms:.3g} ms"
                + ("" if self.runtime == "torch" else f" (torch -> {self.runtime})")
            )
        if self.max_abs_diff is not None:
            parts.append(f"onnxruntime vs PyTorch max |diff| {self.max_abs_diff:.2g}")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (latencies ``None`` when not measured)."""
        return asdict(self)


def _size(count: int) -> str:
    """A byte count in kB or MB (powers of 1000)."""
    return f"{count / 1e6:.2f} MB" if count >= 1e6 else f"{count / 1e3:.1f} kB"


def size_on_disk(path: Path) -> int:
    """Bytes of the file at ``path``, or of every file under it when it is a folder."""
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return path.stat().st_size


def _median_ms(call: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of ``call`` over ``repeats`` runs after one warm-up run."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _latency(run: Callable[[torch.Tensor], object], images: torch.Tensor, repeats: int) -> Latency:
    """:class:`Latency` of ``run`` on the first image and on :data:`LARGE_BATCH` images."""
    one, many = images[:1], images[:LARGE_BATCH]
    return Latency(_median_ms(lambda: run(one), repeats), _median_ms(lambda: run(many), repeats))


def torch_latency(model: nn.Module, images: torch.Tensor, repeats: int = REPEATS) -> Latency | None:
    """``model``'s torch latency (evaluation mode, no autograd), ``None`` if it cannot run."""
    try:
        reference_outputs(model, images[:1])
    except Exception:  # any module may fail on MNIST images: then there is no latency to show
        return None
    return _latency(lambda batch: reference_outputs(model, batch), images, repeats)


def measure_export(
    original: nn.Module,
    source: Path,
    exported: nn.Module,
    out: Path,
    fmt: str,
    sample: torch.Tensor | None = None,
    repeats: int = REPEATS,
) -> ExportReport:
    """The :class:`ExportReport` of ``exported`` written to ``out`` as ``fmt`` from ``original``
    read from ``source``; ``sample`` images ``[N, 1, 28, 28]`` (N >= 256 for the large batch;
    default: seeded uniform pixels) are the timed and checked batches."""
    images = sample_images() if sample is None else sample
    before = torch_latency(original, images, repeats)
    if fmt != "onnx":
        return ExportReport(
            fmt, "torch", size_on_disk(Path(source)), size_on_disk(Path(out)), before,
            torch_latency(exported, images, repeats),
        )  # fmt: skip
    runner = session(Path(out))
    diff = float((run_session(runner, images) - reference_outputs(exported, images)).abs().max())
    after = _latency(lambda batch: runner.run(None, session_inputs(runner, batch)), images, repeats)
    return ExportReport(
        fmt, "onnxruntime", size_on_disk(Path(source)), size_on_disk(Path(out)), before, after,
        diff,
    )  # fmt: skip
