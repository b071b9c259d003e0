"""The Train tab trains in a worker process: it draws only what arrives, and a dead worker is
one clear error after which the tab still trains (in a fresh process)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from rmt_gui.jobs.process_worker import exit_message
from tests.helpers.app_window import WAIT_MS, message_box, small_training


@pytest.mark.slow
def test_a_killed_worker_fails_the_run_and_the_next_one_gets_a_fresh_one(
    qtbot, window, tmp_path
) -> None:
    panel = window.training.show()
    small_training(panel, tmp_path / "long", limit=1600, epochs=200, every=500)
    panel.start_button.click()
    run = panel.session.runs[0]
    qtbot.waitUntil(lambda: run.step >= 10, timeout=WAIT_MS)
    worker = panel.runner.worker
    first = worker.pid
    assert first is not None and first != os.getpid()
    panel.pause_button.click()
    qtbot.waitUntil(lambda: run.status == "paused", timeout=WAIT_MS)
    qtbot.wait(500)  # the frames of what arrived before the pause
    frames: list[int] = []
    panel.frameDrawn.connect(frames.append)
    qtbot.wait(600)
    assert frames == []  # paused: nothing new arrives, so nothing is drawn
    os.kill(first, signal.SIGKILL)
    qtbot.waitUntil(lambda: message_box("errorBox") is not None, timeout=WAIT_MS)
    assert message_box("errorBox").text() == f"Training failed: {exit_message(-9)}"
    message_box("errorBox").accept()
    assert run.status == "failed" and not panel.running and panel.start_button.isEnabled()

    small_training(panel, tmp_path / "short", limit=640, epochs=1, every=500, compare=True)
    panel.start_button.click()
    pids: set[int | None] = set()
    deadline = time.monotonic() + WAIT_MS / 1000
    while panel.running and time.monotonic() < deadline:
        pids.add(worker.pid)
        qtbot.wait(20)
    assert [r.status for r in panel.session.runs] == ["finished", "finished"]
    assert len(pids) == 1 and first not in pids  # one fresh child for the run and its baseline
    assert panel.shutdown(10) and worker.pid is None
