"""The globals a pickle would import (and call), read from its opcodes without unpickling it.

``pickletools.genops`` walks the opcodes; a small model of the unpickler's stack and memo
resolves the two string operands of ``STACK_GLOBAL`` (protocol 4 and later). Nothing from the
file is imported or called. Torch zip archives keep their pickle in ``*/data.pkl``; a legacy
``torch.save`` file is a run of pickle streams (magic number, protocol, system info, the object,
its storage keys) followed by raw tensor data.
"""

from __future__ import annotations

import _compat_pickle
import importlib.util
import io
import pickletools
import struct
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SCAN_LIMIT = 1 << 20
"""Bytes of pickle read at most. Both this scan and torch's safe unpickler are pure Python and
take seconds per MB of one-byte opcodes, so a longer pickle is not read without trust."""

TORCH_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_STREAMS = 5
STRING_OPS = frozenset(
    {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
     "BINUNICODE8"}
)  # fmt: skip
MEMO_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
IMPORT_OPS = frozenset({"GLOBAL", "INST"})
EXTENSION_OPS = frozenset({"EXT1", "EXT2", "EXT4"})
UNRESOLVED = "a global named at run time"
RUNS_CODE = frozenset(
    {"builtins", "__builtin__", "os", "posix", "nt", "subprocess", "sys", "shutil", "socket",
     "importlib", "pickle", "_pickle", "marshal", "ctypes", "runpy", "code", "pty", "webbrowser",
     "multiprocessing", "operator", "functools", "types", "io", "_io", "pathlib", "tempfile"}
)  # fmt: skip
"""Top-level modules whose globals run commands or code: listed first in a refusal."""

FALLBACK_SAFE = frozenset({"collections.OrderedDict", "torch._utils._rebuild_tensor_v2"})
MARK = object()


@dataclass(frozen=True)
class PickleScan:
    """Every ``module.name`` a pickle imports, in order of first use.

    ``complete``: every stream was read to its end; ``cut``: the reading stopped at
    :data:`SCAN_LIMIT`, so the pickle is longer than torch's safe loader can read in good time.
    """

    globals: tuple[str, ...]
    complete: bool
    cut: bool

    def unsafe(self) -> tuple[str, ...]:
        """The globals torch's safe loader refuses, those that run code or commands first."""
        safe = safe_globals()
        refused = [name for name in self.globals if name not in safe]
        return tuple(sorted(refused, key=_danger_rank))

    def unbuildable(self) -> tuple[str, ...]:
        """Globals no trust can bring back here: ``__main__`` classes, modules not installed."""
        return tuple(name for name in self.unsafe() if name != UNRESOLVED and not _importable(name))


def runs_code(name: str) -> bool:
    """Whether global ``name`` comes from a module that runs commands or code (``os``, ...)."""
    return name == UNRESOLVED or name.partition(".")[0] in RUNS_CODE


def _danger_rank(name: str) -> int:
    """0 for globals that run commands or code, 2 for torch's own classes, 1 for the rest."""
    if runs_code(name):
        return 0
    return 2 if name.startswith("torch.") else 1


def _importable(name: str) -> bool:
    """Whether the top-level module of ``name`` exists here (found, never imported or run)."""
    top = name.partition(".")[0]
    if top == "__main__" or not top.isidentifier():
        return False
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def safe_globals() -> frozenset[str]:
    """The ``module.name`` globals ``torch.load(weights_only=True)`` accepts."""
    try:
        from torch import _weights_only_unpickler as restricted

        names = set(restricted._get_allowed_globals()) | set(restricted._get_user_allowed_globals())
    except (ImportError, AttributeError):
        return FALLBACK_SAFE
    return frozenset(names)


def _effect(opcode: pickletools.OpcodeInfo) -> tuple[bool, int, int]:
    """How an opcode moves the stack: (pops down to a mark?, items popped below it, pushes)."""
    before, after = opcode.stack_before, opcode.stack_after
    to_mark = pickletools.markobject in before
    popped = before.index(pickletools.markobject) if to_mark else len(before)
    return to_mark, popped, len(after)


EFFECTS = {opcode.name: _effect(opcode) for opcode in pickletools.opcodes}


def _step(name: str, value: object, stack: list[object]) -> None:
    """Apply opcode ``name``'s stack effect, ``value`` being what it pushes (IndexError on
    underflow)."""
    to_mark, popped, pushes = EFFECTS[name]
    if to_mark or (name == "POP" and stack and stack[-1] is MARK):
        while stack.pop() is not MARK:
            pass
        popped = popped if to_mark else 0
    if popped:
        if popped > len(stack):
            raise IndexError("stack underflow")
        del stack[-popped:]
    stack.extend([MARK if name == "MARK" else value] * pushes)


def _global_name(module: str, attr: str, protocol: int) -> str:
    """``module.attr`` as the unpickler resolves it: Python 2 names map on before protocol 3."""
    if protocol < 3:
        if (module, attr) in _compat_pickle.NAME_MAPPING:
            module, attr = _compat_pickle.NAME_MAPPING[(module, attr)]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return f"{module}.{attr}"


def _scan_stream(stream: BinaryIO, found: dict[str, None]) -> bool:
    """Add the globals of one pickle stream to ``found``; whether it held torch's magic number."""
    stack: list[object] = []
    memo: dict[object, object] = {}
    protocol, magic = 0, False
    for opcode, arg, _pos in pickletools.genops(stream):
        name, value = opcode.name, None
        if name in MEMO_PUTS or name == "MEMOIZE":
            memo[arg if name in MEMO_PUTS else len(memo)] = stack[-1]
            continue
        if name in STRING_OPS:
            value = arg
        elif name in MEMO_GETS:
            value = memo.get(arg)
        elif name == "DUP":
            value = stack[-1]
        elif name in IMPORT_OPS:
            module, _, attr = str(arg).partition(" ")
            found.setdefault(_global_name(module, attr, protocol), None)
        elif name == "STACK_GLOBAL":
            pushed, attr_pushed = stack[-2], stack[-1]
            if isinstance(pushed, str) and isinstance(attr_pushed, str):
                found.setdefault(_global_name(pushed, attr_pushed, protocol), None)
            else:
                found.setdefault(UNRESOLVED, None)
        elif name in EXTENSION_OPS:
            found.setdefault(f"copyreg extension {arg}", None)
        elif name == "PROTO" and isinstance(arg, int):
            protocol = arg
        elif name == "LONG1":
            magic = magic or arg == TORCH_MAGIC
        _step(name, value, stack)
    return magic


def scan_bytes(data: bytes, streams: int = 1) -> PickleScan:
    """The globals of the first ``streams`` pickles in ``data`` (a legacy torch file: up to 5).

    A legacy file is recognised by its first stream, torch's magic number; otherwise only the
    first stream is read, as ``torch.load`` would.
    """
    found: dict[str, None] = {}
    stream = io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pickletools warns of bad escapes in old strings
            for index in range(streams):
                magic = _scan_stream(stream, found)
                if index == 0 and not magic:
                    break
    except (ValueError, IndexError, struct.error):
        return PickleScan(tuple(found), complete=False, cut=len(data) >= SCAN_LIMIT)
    return PickleScan(tuple(found), complete=True, cut=False)


def _merge(scans: Iterable[PickleScan]) -> PickleScan:
    """One scan holding the globals of several: complete if all were, cut if any was."""
    found: dict[str, None] = {}
    complete, cut = True, False
    for scan in scans:
        found.update(dict.fromkeys(scan.globals))
        complete, cut = complete and scan.complete, cut or scan.cut
    return PickleScan(tuple(found), complete, cut)


def pickle_members(members: Iterable[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    """The ``data.pkl`` among a torch zip archive's members: the pickle ``torch.load`` reads."""
    return [info for info in members if info.filename.endswith("data.pkl")]


def scan_file(path: Path) -> PickleScan:
    """The globals ``torch.load`` would meet in ``path``: in its ``data.pkl`` members, or in its
    leading pickle streams; at most :data:`SCAN_LIMIT` bytes of each are read."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = pickle_members(archive.infolist())
            return _merge(scan_bytes(archive.open(info).read(SCAN_LIMIT)) for info in members)
    with path.open("rb") as handle:
        return scan_bytes(handle.read(SCAN_LIMIT), LEGACY_STREAMS)


def starts_with_pickle(path: Path) -> bool:
    """Whether ``path`` opens with one whole pickle stream (protocols 0 and 1 have no header)."""
    with path.open("rb") as handle:
        return scan_bytes(handle.read(SCAN_LIMIT)).complete
