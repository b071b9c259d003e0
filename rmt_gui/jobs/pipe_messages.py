"""How a worker's messages cross its pipe: pickled, large arrays after the pickle in pieces.

A received model is mostly a few large arrays (64 MB for one 4096x4096 layer). Read as one
message, its bytes were copied three times by calls that hold the GIL throughout (the
connection's buffer, its value, the unpickler's copy), so the UI thread, waiting for the GIL,
missed ~50 ms of its timers. Here every array of at least :data:`PIECE_BYTES` is left out of the
pickle (protocol 5's out-of-band buffers) and sent after it in pieces of that size; the reader
gathers the pieces straight into the array's final buffer, releasing the GIL between them, and
the unpickler takes that buffer as it is. Smaller arrays (spectra, losses) stay in the pickle.
"""

from __future__ import annotations

import copyreg
import io
import pickle
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

PIECE_BYTES = 1 << 20


def _rebuild_array(
    data: bytes | bytearray | np.ndarray, dtype: str, shape: tuple[int, ...]
) -> np.ndarray:
    """An array on its received buffer: ``bytearray`` or a gathered array (writeable), ``bytes``
    or a read-only gathered array (read-only)."""
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _reduce_array(array: np.ndarray) -> str | tuple[Any, ...]:
    """Pickle plain arrays as their raw buffer (protocol 5: no copy on the way out), unpickled
    as ``bytearray`` when the array was writeable and ``bytes`` when not, so the writeable flag
    survives (numpy's own pickle drops it) and a received model costs one copy, not two."""
    if array.dtype.hasobject:
        return array.__reduce__()
    buffer = pickle.PickleBuffer(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
    return _rebuild_array, (buffer, array.dtype.str, array.shape)


def dumps(message: Any, out_of_band: list[pickle.PickleBuffer] | None = None) -> bytes:
    """Pickle ``message``, numpy arrays by :func:`_reduce_array` (cheap, and read-only stays so).

    With ``out_of_band``, the buffers of arrays of at least :data:`PIECE_BYTES` are appended
    there instead of written into the pickle (``pickle.loads(data, buffers=...)`` takes them)."""

    def in_band(buffer: pickle.PickleBuffer) -> bool:
        if out_of_band is None or buffer.raw().nbytes < PIECE_BYTES:
            return True
        out_of_band.append(buffer)
        return False

    stream = io.BytesIO()
    pickler = pickle.Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL, buffer_callback=in_band)
    pickler.dispatch_table = {**copyreg.dispatch_table, np.ndarray: _reduce_array}
    pickler.dump(message)
    return stream.getvalue()


def send(connection: Connection, message: Any) -> None:
    """Send ``message`` as :func:`receive` reads it: the pickle with the sizes of the arrays
    left out of it, then each of those arrays' bytes in pieces."""
    buffers: list[pickle.PickleBuffer] = []
    body = dumps(message, buffers)
    views = [buffer.raw() for buffer in buffers]
    layout = [(view.nbytes, view.readonly) for view in views]
    connection.send_bytes(pickle.dumps((layout, body), protocol=pickle.HIGHEST_PROTOCOL))
    for view in views:
        for start in range(0, view.nbytes, PIECE_BYTES):
            connection.send_bytes(view, start, min(PIECE_BYTES, view.nbytes - start))


def _gather(connection: Connection, size: int, readonly: bool) -> np.ndarray:
    """``size`` bytes arriving in pieces, read into one new byte array (each piece is a short
    copy, so the GIL is free between them)."""
    data = np.empty(size, np.uint8)
    filled = 0
    while filled < size:
        filled += connection.recv_bytes_into(data, filled)
    data.flags.writeable = not readonly
    return data


def receive(connection: Connection) -> Any:
    """The next message :func:`send` sent (blocks; ``EOFError`` once the other end closed)."""
    layout, body = pickle.loads(connection.recv_bytes())
    buffers = [_gather(connection, size, readonly) for size, readonly in layout]
    return pickle.loads(body, buffers=buffers)
