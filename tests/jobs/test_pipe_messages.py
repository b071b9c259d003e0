"""A worker's messages over its pipe: small arrays in the pickle, large ones after it in pieces
gathered into their final buffer, the writeable flag kept either way."""

from __future__ import annotations

import multiprocessing
import pickle
import threading

import numpy as np

from rmt_gui.jobs.pipe_messages import PIECE_BYTES, dumps, receive, send
from rmt_gui.spectral import Spectrum


def root_buffer(array: np.ndarray) -> object:
    """The object at the bottom of ``array``'s chain of views."""
    owner = array
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    return memoryview(owner).obj if not isinstance(owner, np.ndarray) else owner


def sent_and_received(*messages: object) -> list:
    """``messages`` sent on one end of a pipe (from a thread: a large one fills the pipe) and
    received on the other."""
    read_end, write_end = multiprocessing.Pipe(duplex=False)
    sender = threading.Thread(target=lambda: [send(write_end, m) for m in messages])
    sender.start()
    received = [receive(read_end) for _ in messages]
    sender.join()
    return received


def test_events_pickle_cheaply_and_stay_read_only() -> None:
    values = np.sort(np.random.default_rng(0).uniform(0.1, 2.0, 784))[::-1]
    spectrum = Spectrum.from_singular_values(values, (1000, 784))
    data = dumps(spectrum)
    copy = pickle.loads(data)
    np.testing.assert_array_equal(copy.singular_values, spectrum.singular_values)
    assert not copy.singular_values.flags.writeable
    assert len(data) < 2 * spectrum.singular_values.nbytes + 2048
    writable = pickle.loads(dumps(np.arange(4.0)))
    writable[0] = 7.0
    assert writable.tolist() == [7.0, 1.0, 2.0, 3.0]


def test_a_received_writeable_array_lives_on_its_unpickled_buffer() -> None:
    weight = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    copy = pickle.loads(dumps(weight))
    np.testing.assert_array_equal(copy, weight)
    assert copy.flags.writeable and isinstance(root_buffer(copy), bytearray)


def test_only_large_arrays_leave_the_pickle() -> None:
    large = np.zeros(PIECE_BYTES // 4, np.float32)
    small = np.zeros(PIECE_BYTES // 4 - 1, np.float32)
    buffers: list[pickle.PickleBuffer] = []
    body = dumps({"large": large, "small": small}, buffers)
    assert [buffer.raw().nbytes for buffer in buffers] == [large.nbytes]
    assert small.nbytes < len(body) < small.nbytes + 1024


def test_large_arrays_cross_in_pieces_into_their_final_buffer() -> None:
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((700, 1000)).astype(np.float32)  # 2.7 pieces
    frozen = rng.standard_normal(3 * PIECE_BYTES // 8)
    frozen.flags.writeable = False
    spectrum = np.arange(5.0)
    first, second = sent_and_received(("model", weight, spectrum), {"frozen": frozen})
    assert first[0] == "model"
    np.testing.assert_array_equal(first[1], weight)
    np.testing.assert_array_equal(first[2], spectrum)
    assert first[1].flags.writeable and first[1].dtype == np.float32
    assert isinstance(root_buffer(first[1]), np.ndarray)  # gathered there, not copied again
    np.testing.assert_array_equal(second["frozen"], frozen)
    assert not second["frozen"].flags.writeable
