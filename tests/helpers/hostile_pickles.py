"""Pickles that would run code if unpickled, and torch archives altered after writing.

Each hostile object's ``__reduce__`` names a real callable that would create a marker file; the
tests assert the marker never appears. Nothing here unpickles anything.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch

from tests.helpers.model_files import state

LOCAL_HEADER = 30  # bytes of a zip local file header before its name and extra field


class SystemCall:
    """Unpickling runs ``os.system("touch MARKER")`` (``posix.system``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch '{self.marker}'",))


class EvalCall(SystemCall):
    """Unpickling runs ``eval`` of code that creates the marker (``builtins.eval``)."""

    def __reduce__(self) -> tuple:
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


class ExecCall(SystemCall):
    """Unpickling runs ``exec`` of code that creates the marker (``builtins.exec``)."""

    def __reduce__(self) -> tuple:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


class PopenCall(SystemCall):
    """Unpickling starts ``touch MARKER`` with ``subprocess.Popen``."""

    def __reduce__(self) -> tuple:
        return (subprocess.Popen, (["touch", str(self.marker)],))


HOSTILE = {
    "posix.system": SystemCall,
    "builtins.eval": EvalCall,
    "builtins.exec": ExecCall,
    "subprocess.Popen": PopenCall,
}


def nested_payload(hostile: object) -> dict:
    """A training checkpoint whose weights are real and whose extras hide ``hostile``."""
    return {"state_dict": state(), "extra": {"config": {"hook": [hostile]}}}


def save_hostile(path: Path, payload: object, how: str) -> Path:
    """Write ``payload`` as ``how``: ``zip``, ``zip-p4`` (STACK_GLOBAL), ``legacy``, ``legacy-p4``
    or ``raw-pN`` (a bare pickle of protocol N, no torch framing)."""
    if how.startswith("raw-p"):
        path.write_bytes(pickle.dumps(payload, protocol=int(how.removeprefix("raw-p"))))
    else:
        protocol = 4 if how.endswith("-p4") else 2
        zipped = how.startswith("zip")
        torch.save(payload, path, _use_new_zipfile_serialization=zipped, pickle_protocol=protocol)
    return path


def rewrite_members(path: Path, change: Callable[[str, bytes], bytes], out: Path) -> Path:
    """Copy zip ``path`` to ``out``, each member's bytes passed through ``change(name, data)``,
    with correct CRCs (stored uncompressed, as ``torch.save`` writes them)."""
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for name, data in members:
            target.writestr(name, change(name, data))
    return out


def flip_byte(path: Path, member_suffix: str, out: Path) -> Path:
    """Copy ``path`` to ``out`` with one byte inside member ``*member_suffix`` inverted, leaving
    the stored CRC as it was."""
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(member_suffix))
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + LOCAL_HEADER + name_length + extra_length
    data[start + info.file_size // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    return out
