"""Cancel, pause and rate controls across threads."""

import threading
import time

import pytest

from rmt_gui.errors import CancelledError
from rmt_gui.jobs.control import CancelToken, PauseGate, RateGate


def test_cancel_token_raises_after_cancel() -> None:
    token = CancelToken()
    token.check()
    token.progress_callback()(1, 2)
    token.cancel()
    assert token.cancelled
    with pytest.raises(CancelledError):
        token.check()
    with pytest.raises(CancelledError):
        token.progress_callback()(1, 2)


def test_pause_blocks_until_resumed_from_another_thread() -> None:
    gate = PauseGate()
    gate.pause()
    passed = threading.Event()
    worker = threading.Thread(target=lambda: (gate.wait(0.01), passed.set()))
    worker.start()
    time.sleep(0.1)
    assert not passed.is_set()
    gate.resume()
    worker.join(2)
    assert passed.is_set() and not gate.paused


def test_cancel_wakes_a_paused_worker() -> None:
    token = CancelToken()
    gate = PauseGate(token)
    gate.pause()
    errors = []

    def work() -> None:
        try:
            gate.wait(0.01)
        except CancelledError as exc:
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    token.cancel()
    worker.join(2)
    assert len(errors) == 1


def test_rate_gate() -> None:
    gate = RateGate(per_second=10)
    assert gate.ready(now=0.0)
    assert not gate.ready(now=0.05)
    assert gate.ready(now=0.1)
    assert RateGate(0).ready(now=0.0) and RateGate(0).ready(now=0.0)
