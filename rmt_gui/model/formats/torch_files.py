"""Files written by ``torch.save`` or ``torch.jit.save``.

State dicts, training checkpoints wrapping one, and this project's format load with
``weights_only=True`` (memory-mapped when the file is a zip archive). A pickled ``nn.Module``
needs real unpickling, which can run arbitrary code, so it is refused unless ``trust`` is given;
the refusal names the globals the pickle would import and call, read without unpickling it.

``torch.load`` never checks a zip member's CRC-32, so every member is read and checked once on
open, eagerly: 0.045 s for a 100 MB state dict (warm cache), small next to reading the weights
for analysis, and far simpler than mapping members to layers.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import torch
from torch import nn

from rmt_gui.errors import FileError, one_line
from rmt_gui.model.checkpoint import Checkpoint, LayerInfo
from rmt_gui.model.formats.pickle_scan import (
    SCAN_LIMIT,
    PickleScan,
    pickle_members,
    runs_code,
    scan_file,
)
from rmt_gui.model.formats.tensors import TensorCheckpoint, to_numpy, usable_tensors
from rmt_gui.model.jit import quiet_jit
from rmt_gui.model.module_layers import layers_from_module
from rmt_gui.model.native import NativeFormatError, is_native, read_payload

WRAPPER_KEYS = (
    "model_state_dict", "state_dict", "model", "model_state", "net", "network",
    "module", "weights", "params", "ema", "student",
)  # fmt: skip
SEARCH_DEPTH = 8
SHOWN_KEYS = 6
SHOWN_NUMBER_LIMIT = 10**9
GLOBALS_BUDGET = 60
CHUNK = 1 << 22
EXPAND_LIMIT_BYTES = 64 << 20
MEMBER_LIMIT = 1 << 16
REBUILD_HINT = "save a state_dict or TorchScript"


class TrustRequiredError(FileError):
    """The file needs full unpickling; the message explains the risk and how to allow it.

    ``globals`` are the ``module.name`` the pickle would import and call (those torch's safe
    loader refuses, the ones that run code first); ``can_rebuild`` is False when trusting the
    file would not help, e.g. for a class defined in the ``__main__`` script that saved it.
    """

    def __init__(
        self, path: Path, problem: str, globals_: Sequence[str] = (), can_rebuild: bool = True
    ) -> None:
        super().__init__(path, problem)
        self.globals = tuple(globals_)
        self.can_rebuild = can_rebuild


class ModuleCheckpoint(Checkpoint):
    """A TorchScript archive or a trusted pickled module: the architecture comes with it."""

    def __init__(self, path: Path, module: nn.Module, fmt: str, detail: str = "") -> None:
        super().__init__(path, detail)
        self.format = fmt
        self.module = module.eval()
        self._layers = layers_from_module(self.module)
        self._state = usable_tensors(path, self.module.state_dict())

    def layers(self) -> list[LayerInfo]:
        return list(self._layers)

    def _read(self, name: str) -> np.ndarray:
        return to_numpy(self._state[name])

    def build_model(self) -> nn.Module:
        return self.module


def _key_text(key: object) -> str:
    """A mapping key as shown in messages: text as is, ``<int 3>``, else ``<tuple>``.

    ``str`` of an int over 4300 digits raises, so only small numbers are spelled out.
    """
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float)) and abs(key) < SHOWN_NUMBER_LIMIT:
        return f"<{type(key).__name__} {key}>"
    return f"<{type(key).__name__}>"


def _all_tensors(value: object) -> TypeGuard[Mapping[Any, torch.Tensor]]:
    """A non-empty mapping whose values are all tensors (its keys not yet checked)."""
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(v, torch.Tensor) for v in value.values())
    )


def is_state_dict(value: object) -> TypeGuard[Mapping[str, torch.Tensor]]:
    """A non-empty mapping of string keys to tensors."""
    return _all_tensors(value) and all(isinstance(k, str) for k in value)


def _tensor_maps(payload: object, keys: tuple[str, ...] = ()) -> Iterator[tuple[Any, tuple]]:
    """Each mapping of tensors in ``payload`` and its key path; wrapper keys first, depth first."""
    if _all_tensors(payload):
        yield payload, keys
        return
    if not isinstance(payload, Mapping) or len(keys) >= SEARCH_DEPTH:
        return
    first = [k for k in WRAPPER_KEYS if k in payload]
    for key in first + [k for k in payload if k not in WRAPPER_KEYS]:
        yield from _tensor_maps(payload[key], (*keys, _key_text(key)))


def find_state_dict(payload: object) -> tuple[Mapping[str, torch.Tensor], tuple] | None:
    """The state dict inside ``payload`` and the key path it was found under (() for the top)."""
    return next(((m, keys) for m, keys in _tensor_maps(payload) if is_state_dict(m)), None)


def _odd_key_problem(payload: object) -> str | None:
    """Why the first mapping of tensors in ``payload`` is no state dict (a key that is not
    text), or None when there is no such mapping."""
    found = next(_tensor_maps(payload), None)
    if found is None:
        return None
    mapping, keys = found
    key = next((k for k in mapping if not isinstance(k, str)), None)
    place = f" under key {'.'.join(keys)!r}" if keys else ""
    return f"a tensor{place} is named by {_key_text(key)}, not by text"


def is_torchscript(members: Sequence[zipfile.ZipInfo]) -> bool:
    """Whether a zip archive's members hold TorchScript code (``code/`` or ``constants.pkl``)."""
    names = [info.filename for info in members]
    return any("/code/" in name or name.endswith("/constants.pkl") for name in names)


def check_members(path: Path) -> list[zipfile.ZipInfo]:
    """The members of a zip archive, refused if their bytes fail their CRC-32 or are too many.

    torch writes one member per tensor storage, far fewer than :data:`MEMBER_LIMIT`. TorchScript
    deflates its code; a deflated member may expand a thousandfold, so all of them together may
    expand to :data:`EXPAND_LIMIT_BYTES` at most (stored ones are as long as in the file).
    """
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > MEMBER_LIMIT:
            raise FileError(
                path, f"a zip archive of {len(members)} members, far more than a model file has"
            )
        expanded = sum(i.file_size for i in members if i.compress_type != zipfile.ZIP_STORED)
        if expanded > EXPAND_LIMIT_BYTES:
            raise FileError(
                path, f"its compressed members would expand to {expanded >> 20} MB; refused"
            )
        for info in members:
            _check_member(path, archive, info)
    return members


def _check_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Read one member to its end, which makes ``zipfile`` compare its CRC-32."""
    try:
        with archive.open(info) as member:
            while member.read(CHUNK):
                pass
    except zipfile.BadZipFile as exc:
        what = "CRC mismatch" if "CRC" in str(exc) else one_line(exc)
        raise FileError(path, f"data of member {info.filename} is corrupt ({what})") from exc
    except (OSError, EOFError, zlib.error, ValueError, NotImplementedError) as exc:
        raise FileError(path, f"member {info.filename} is unreadable ({one_line(exc)})") from exc


def _listing(names: Sequence[str], budget: int = GLOBALS_BUDGET) -> str:
    """``a, b, c`` or ``a, b and 3 more``, within about ``budget`` characters."""
    shown: list[str] = []
    for name in names:
        if shown and len(", ".join([*shown, name])) > budget:
            break
        shown.append(name)
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def _cannot_rebuild(unbuildable: Sequence[str], dangerous: Sequence[str]) -> str:
    """Why trusting the file would not help, naming the class; and what it would also call."""
    first = unbuildable[0]
    module, _, name = first.rpartition(".")
    if module == "__main__":
        problem = (
            f"the class {name!r} was defined in the script that saved it ({first}), so it "
            f"cannot be rebuilt even with --trust; {REBUILD_HINT}"
        )
    else:
        problem = (
            f"{first} cannot be imported here, so the pickle cannot be rebuilt even with "
            f"--trust; {REBUILD_HINT}"
        )
    return problem + (f" (it would also call {_listing(dangerous, 50)})" if dangerous else "")


def trust_error(
    path: Path, scan: PickleScan, refused: str | None, reason: str = ""
) -> TrustRequiredError:
    """The refusal of a file that needs unpickling, naming what it would import and call.

    ``refused`` is the global torch's safe loader named and ``reason`` why it stopped, used
    when the scan found no global it refuses.
    """
    names = scan.unsafe() or ((refused,) if refused else ())
    unbuildable = scan.unbuildable()
    if unbuildable:
        dangerous = [name for name in names if name not in unbuildable and runs_code(name)]
        return TrustRequiredError(
            path, _cannot_rebuild(unbuildable, dangerous), names, can_rebuild=False
        )
    if not names:
        problem = (
            f"the safe loader cannot read it ({reason or 'unsupported pickle data'}); full "
            "unpickling runs code from the file: use --trust only if you trust where it came from"
        )
        return TrustRequiredError(path, problem)
    more = "" if scan.complete else " and possibly more"
    problem = (
        f"refused: unpickling runs code from the file; it would import and call "
        f"{_listing(names)}{more}. Open it with --trust only if you trust its source"
    )
    return TrustRequiredError(path, problem, names)


def _refused_global(message: str) -> str | None:
    """The ``module.name`` that ``weights_only`` refused, from torch's error message."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    return found.group(1) if found else None


def _loader_reason(message: str) -> str:
    """What torch's safe loader reported, without the advice around it."""
    detail = message.partition("WeightsUnpickler error:")[2]
    return one_line(detail or message, 80)


def _class_problem(exc: Exception) -> str:
    """Why a trusted pickle's class could not be found, and what to do instead."""
    text = str(exc)
    missing = re.search(r"Can't get attribute '([\w.]+)' on <module '([\w.]+)'", text)
    if missing and missing.group(2).endswith("__main__"):
        return _cannot_rebuild([f"__main__.{missing.group(1)}"], ())
    return f"the pickled model's class is not importable here ({one_line(exc)}); {REBUILD_HINT}"


def _encodable(path: Path) -> bool:
    """Whether torch's C++ loader can take ``path`` as text (not for undecodable file names)."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _torch_load(path: Path, weights_only: bool, zipped: bool) -> object:
    """``torch.load`` on the CPU: memory-mapped for zip archives named in valid UTF-8."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if _encodable(path):
            return torch.load(path, map_location="cpu", weights_only=weights_only, mmap=zipped)
        with path.open("rb") as handle:
            return torch.load(handle, map_location="cpu", weights_only=weights_only)


def _checked_length(path: Path, members: Sequence[zipfile.ZipInfo] | None) -> PickleScan | None:
    """Refuse a pickle too long for torch's safe loader to read in good time.

    A zip archive's pickle length is in its ``members``; a legacy file's is found by scanning its
    leading streams, and that scan is returned for reuse.
    """
    if members is not None:
        longest = max((info.file_size for info in pickle_members(members)), default=0)
        scan = None
    else:
        scan = scan_file(path)
        longest = SCAN_LIMIT + 1 if scan.cut else 0
    if longest > SCAN_LIMIT:
        raise FileError(
            path,
            f"its pickled part is over {SCAN_LIMIT >> 20} MB, far more than weights need, and "
            "would take minutes to read safely; open it with --trust only if you trust its source",
        )
    return scan


def _load(path: Path, weights_only: bool, members: Sequence[zipfile.ZipInfo] | None) -> object:
    """Unpickle ``path`` (a zip archive of ``members``, or a legacy file when None); refusals
    name what the pickle would import, other errors become one line.

    Without trust nothing is scanned up front for a zip archive unless torch refuses it; with
    trust, a class that cannot be rebuilt anyway (``__main__``) is refused before unpickling.
    """
    scan = _checked_length(path, members) if weights_only else scan_file(path)
    unbuildable = () if weights_only or scan is None else scan.unbuildable()
    if unbuildable:
        raise FileError(path, _cannot_rebuild(unbuildable, ()))
    try:
        return _torch_load(path, weights_only, zipped=members is not None)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if weights_only and "weights only load failed" in text.lower():
            found = scan or scan_file(path)
            raise trust_error(path, found, _refused_global(text), _loader_reason(text)) from exc
        raise FileError(path, f"corrupt pickle data ({one_line(text)})") from exc
    except (EOFError, zipfile.BadZipFile) as exc:
        raise FileError(path, "truncated or corrupt PyTorch file") from exc
    except (AttributeError, ImportError) as exc:
        if weights_only:
            raise FileError(path, f"corrupt PyTorch file ({one_line(exc)})") from exc
        raise FileError(path, _class_problem(exc)) from exc
    except MemoryError as exc:
        raise FileError(path, "corrupt PyTorch file (asks for more memory than exists)") from exc
    except Exception as exc:
        reason = (
            one_line(exc)
            if isinstance(exc, RuntimeError)
            else f"{type(exc).__name__}: {one_line(exc)}"
        )
        raise FileError(path, f"truncated or corrupt PyTorch file ({reason})") from exc


def open_torchscript(path: Path) -> Checkpoint:
    """Load a TorchScript archive on the CPU (from an open file: any file name works)."""
    try:
        with quiet_jit(), path.open("rb") as handle:
            module = torch.jit.load(handle, map_location="cpu")
    except Exception as exc:
        raise FileError(path, f"corrupt TorchScript archive ({one_line(exc)})") from exc
    return ModuleCheckpoint(path, module, "torchscript", "TorchScript archive")


def _native(path: Path, payload: dict) -> Checkpoint:
    """This project's format: weights plus the recorded MLP chain, every field checked."""
    try:
        content = read_payload(payload)
    except NativeFormatError as exc:
        raise FileError(path, str(exc)) from exc
    kind = "MLP" if content.chain else "weights only"
    steps = len(content.history)
    head = f"rmt-gui checkpoint, {kind}, {steps} history step{'' if steps == 1 else 's'}"
    detail = "; ".join([head, *content.notes])
    return TensorCheckpoint(
        path, content.state_dict, "rmt-gui", detail, chain=content.chain,
        history=content.history, metadata=content.metadata,
    )  # fmt: skip


def _wrapped(
    path: Path, payload: Mapping, state: Mapping[str, torch.Tensor], keys: tuple
) -> Checkpoint:
    """A training checkpoint whose weights sit under ``keys``; the other top-level keys listed."""
    others = sorted(_key_text(k) for k in payload if _key_text(k) != keys[0])
    shown = ", ".join(others[:SHOWN_KEYS]) + (", ..." if len(others) > SHOWN_KEYS else "")
    detail = f"weights under key {'.'.join(keys)!r}" + (f" (also: {shown})" if others else "")
    return TensorCheckpoint(path, state, "training-checkpoint", detail)


def open_torch_file(path: Path, trust: bool = False) -> Checkpoint:
    """Open any ``torch.save``/``torch.jit.save`` file; pickled modules only with ``trust``."""
    members = check_members(path) if zipfile.is_zipfile(path) else None
    if members is not None and is_torchscript(members):
        return open_torchscript(path)
    payload = _load(path, not trust, members)
    if is_native(payload):
        return _native(path, payload)
    if isinstance(payload, nn.Module):
        return ModuleCheckpoint(path, payload, "pickled-module", "trusted pickled nn.Module")
    found = find_state_dict(payload)
    if found is None:
        if isinstance(payload, Mapping) and any(isinstance(v, nn.Module) for v in payload.values()):
            key = next(k for k, v in payload.items() if isinstance(v, nn.Module))
            detail = f"module under {_key_text(key)!r}"
            return ModuleCheckpoint(path, payload[key], "pickled-module", detail)
        odd = _odd_key_problem(payload)
        raise FileError(
            path, odd or "no tensors found: not a state dict or a checkpoint that wraps one"
        )
    state, keys = found
    if keys and isinstance(payload, Mapping):  # keys: the state dict sits inside the mapping
        return _wrapped(path, payload, state, keys)
    return TensorCheckpoint(path, state, "state-dict", f"{len(state)} tensors")
